import { describe, expect, it } from 'vitest'
import { Heap } from '../../../main/engine/common/heap'
import { mulberry32 } from '../../../main/engine/common/rng'

/** A heap ordered by a comparator (the stage files define `before` directly, which V8 inlines). */
class By extends Heap {
  constructor(
    private readonly order: (a: number, b: number) => boolean,
    capacity?: number,
  ) {
    super(capacity)
  }
  protected before(a: number, b: number): boolean {
    return this.order(a, b)
  }
}

class MinHeap extends Heap {
  protected before(a: number, b: number): boolean {
    return a < b
  }
}

const ascending = (a: number, b: number) => a < b
const descending = (a: number, b: number) => a > b

/** Pops everything. */
function drain(heap: Heap): number[] {
  const out: number[] = []
  for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x)
  return out
}

describe('Heap', () => {
  it('pops nothing when empty, also after being emptied and cleared', () => {
    const heap = new By(ascending)
    expect(heap.size).toBe(0)
    expect(heap.pop()).toBeUndefined()
    expect(heap.peek()).toBeUndefined()
    heap.push(3)
    expect(heap.pop()).toBe(3)
    expect(heap.pop()).toBeUndefined()
    expect(heap.size).toBe(0)
    heap.push(1)
    heap.push(2)
    heap.clear()
    expect(heap.size).toBe(0)
    expect(heap.peek()).toBeUndefined()
    expect(heap.pop()).toBeUndefined()
    heap.push(5)
    heap.push(4)
    expect(drain(heap)).toEqual([4, 5])
  })

  it('orders by the comparator: min-heap, max-heap', () => {
    const xs = [5, 3, 9, 1, 1, 7, -2, 0.5, 2 ** 40 + 3, 2 ** 40 + 1]
    const min = new By(ascending)
    const max = new By(descending)
    for (const x of xs) {
      min.push(x)
      max.push(x)
    }
    expect(min.size).toBe(xs.length)
    expect(min.peek()).toBe(-2)
    expect(max.peek()).toBe(2 ** 40 + 3)
    expect(drain(min)).toEqual(xs.slice().sort((a, b) => a - b))
    expect(drain(max)).toEqual(xs.slice().sort((a, b) => b - a))
  })

  it('keeps integers up to 2^53 exact (packed keys)', () => {
    const heap = new MinHeap(1)
    const xs = [2 ** 53 - 1, 2 ** 53 - 2, 123 * 2 ** 26 + 5, 123 * 2 ** 26 + 4, 0]
    for (const x of xs) heap.push(x)
    expect(drain(heap)).toEqual(xs.slice().sort((a, b) => a - b))
  })

  it('matches sorting on random push/pop sequences, with comparators that tie', () => {
    const rand = mulberry32(20240607)
    // items are indices into `key`; `key` has few distinct values, so the comparator ties often
    const key = Float64Array.from({ length: 400 }, () => Math.floor(rand() * 8))
    const orders: [string, (a: number, b: number) => boolean, (a: number, b: number) => number][] = [
      ['numbers ascending', ascending, (a, b) => a - b],
      ['numbers descending', descending, (a, b) => b - a],
      // ties broken by the item: a total order, so the pop sequence is fully determined
      ['key, then larger item', (a, b) => key[a]! < key[b]! || (key[a] === key[b] && a > b), (a, b) => key[a]! - key[b]! || b - a],
    ]
    for (const [name, before, compare] of orders) {
      for (let round = 0; round < 30; round++) {
        const heap = new By(before, 1 + Math.floor(rand() * 8))
        const model: number[] = []
        const steps = 1 + Math.floor(rand() * 600)
        const pushShare = 0.3 + rand() * 0.5
        for (let s = 0; s < steps; s++) {
          if (rand() < pushShare) {
            const x = Math.floor(rand() * key.length) // duplicates happen
            heap.push(x)
            model.push(x)
          } else {
            model.sort(compare)
            expect(heap.peek(), name).toBe(model[0])
            expect(heap.pop(), name).toBe(model.shift())
          }
          expect(heap.size).toBe(model.length)
        }
        expect(drain(heap), name).toEqual(model.sort(compare))
      }
    }
  })

  it('pops ties in some order, each tied group whole and in place (key only, a weak order)', () => {
    const rand = mulberry32(7)
    const key = Float64Array.from({ length: 300 }, () => Math.floor(rand() * 5))
    const byKey = (a: number, b: number) => key[a]! < key[b]!
    for (let round = 0; round < 20; round++) {
      const heap = new By(byKey)
      const pushed: number[] = []
      const popped: number[] = []
      for (let s = 0; s < 500; s++) {
        if (rand() < 0.6) {
          const x = Math.floor(rand() * key.length)
          heap.push(x)
          pushed.push(x)
        } else {
          const x = heap.pop()
          if (x === undefined) {
            expect(pushed.length).toBe(popped.length)
            continue
          }
          // nothing still in the heap comes before what was popped
          const rest = pushed.slice()
          for (const y of popped) rest.splice(rest.indexOf(y), 1)
          rest.splice(rest.indexOf(x), 1)
          expect(rest.every((y) => key[y]! >= key[x]!)).toBe(true)
          popped.push(x)
        }
      }
      popped.push(...drain(heap))
      expect(popped.slice().sort((a, b) => a - b)).toEqual(pushed.slice().sort((a, b) => a - b))
    }
  })

  it('grows from a tiny capacity and reuses its storage after clear', () => {
    const heap = new By(descending, 1)
    for (let i = 0; i < 10_000; i++) heap.push((i * 7919) % 10_007)
    expect(heap.size).toBe(10_000)
    expect(heap.peek()).toBe(10_006)
    heap.clear()
    for (let i = 0; i < 100; i++) heap.push(i)
    expect(drain(heap)).toEqual(Array.from({ length: 100 }, (_, i) => 99 - i))
  })

  it('interleaves pushes between pops the way a lazy-deletion loop does', () => {
    // a max-heap of (count, id) entries where a popped stale entry is pushed again with its current count
    const current = [5, 9, 9, 2, 7]
    const entries: [number, number][] = []
    const heap = new By((a, b) => entries[a]![0] > entries[b]![0] || (entries[a]![0] === entries[b]![0] && entries[a]![1] < entries[b]![1]))
    const push = (count: number, id: number) => heap.push(entries.push([count, id]) - 1)
    current.forEach((c, id) => push(c, id))
    push(1, 1) // stale
    current[1] = 1
    const order: number[] = []
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
      const [count, id] = entries[e]!
      if (current[id] !== count) {
        if (current[id]! > 0) push(current[id]!, id)
        continue
      }
      order.push(id)
      current[id] = 0
      if (id === 2) {
        current[3] = 8 // a count rises while its old entry is queued
        push(8, 3)
      }
    }
    expect(order).toEqual([2, 3, 4, 0, 1])
  })
})
