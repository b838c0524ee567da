/**
 * A binary heap of numbers (ids, indices into the caller's arrays, packed keys) whose order a
 * subclass gives by defining `before(a, b)`: true when `a` must come out before `b`, so
 * `a < b` makes a min-heap and `a > b` a max-heap.
 *
 *     class Rarest extends Heap {
 *       constructor(private readonly freq: Float64Array) { super() }
 *       protected before(a: number, b: number): boolean { return this.freq[a]! < this.freq[b]! }
 *     }
 *
 * `before` must be a strict weak order (irreflexive, transitive) that does not change while items
 * are in the heap. Items it ranks equal come out in an unspecified order: a caller whose results
 * depend on the order of ties (BPE's merge order, the learner's choice between equal counts) breaks
 * every tie in `before` itself, which makes the pop sequence a function of the pushed items alone.
 *
 * Why a method and not a comparator passed to the constructor: the sift loops call `before` a few
 * times per level. A comparator stored in a field is a different closure for each use, so that call
 * site goes megamorphic and V8 cannot inline it (the heap operations measured 2.4× slower than a
 * hand-written heap). A method is found through the receiver's class, so V8 inlines it for each
 * subclass (up to four at one call site): as fast as the hand-written heaps this replaced.
 *
 * Items live in a growable Float64Array (exact for integers up to 2^53): nothing is boxed.
 */
export abstract class Heap {
  private items: Float64Array
  private count = 0

  constructor(capacity = 64) {
    this.items = new Float64Array(Math.max(4, capacity))
  }

  /** True when item `a` must come out before item `b`. */
  protected abstract before(a: number, b: number): boolean

  /** Number of items in the heap. */
  get size(): number {
    return this.count
  }

  /** Adds an item. */
  push(x: number): void {
    if (this.count === this.items.length) this.grow()
    const items = this.items
    let i = this.count++
    while (i > 0) {
      const p = (i - 1) >> 1
      const y = items[p]!
      if (!this.before(x, y)) break
      items[i] = y
      i = p
    }
    items[i] = x
  }

  /** Removes and returns the first item (no other item is `before` it), or undefined if empty. */
  pop(): number | undefined {
    const n = this.count
    if (n === 0) return undefined
    const items = this.items
    const top = items[0]!
    const m = n - 1
    this.count = m
    if (m > 0) {
      // sift the last item down from the root, through the hole the first left
      const x = items[m]!
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= m) break
        const r = l + 1
        let c = l
        let y = items[l]!
        if (r < m) {
          const z = items[r]!
          if (this.before(z, y)) {
            c = r
            y = z
          }
        }
        if (!this.before(y, x)) break
        items[i] = y
        i = c
      }
      items[i] = x
    }
    return top
  }

  /** The first item, left in the heap, or undefined if empty. */
  peek(): number | undefined {
    return this.count > 0 ? this.items[0] : undefined
  }

  /** Removes every item (the storage is kept). */
  clear(): void {
    this.count = 0
  }

  private grow(): void {
    const items = new Float64Array(this.items.length * 2)
    items.set(this.items)
    this.items = items
  }
}
