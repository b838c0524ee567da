/**
 * A set of 64-bit document hashes in two typed arrays (open addressing, linear probing): about
 * 16 bytes a document, where a Set of strings would take ten times that.
 */
export class HashSet64 {
  private hi: Uint32Array
  private lo: Uint32Array
  private used = 0

  constructor(capacity = 1 << 16) {
    let size = 16
    while (size < capacity * 2) size *= 2
    this.hi = new Uint32Array(size)
    this.lo = new Uint32Array(size)
  }

  get size(): number {
    return this.used
  }

  /** Adds the key; returns false if it was already there. (0, 0) is stored as (0, 1). */
  add(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) lo = 1
    if ((this.used + 1) * 2 > this.hi.length) this.grow()
    const mask = this.hi.length - 1
    let i = (Math.imul(lo ^ hi, 0x9e3779b1) >>> 0) & mask
    for (;;) {
      const h = this.hi[i] as number
      const l = this.lo[i] as number
      if (h === 0 && l === 0) {
        this.hi[i] = hi
        this.lo[i] = lo
        this.used++
        return true
      }
      if (h === hi && l === lo) return false
      i = (i + 1) & mask
    }
  }

  private grow(): void {
    const oldHi = this.hi
    const oldLo = this.lo
    this.hi = new Uint32Array(oldHi.length * 2)
    this.lo = new Uint32Array(oldLo.length * 2)
    this.used = 0
    for (let i = 0; i < oldHi.length; i++) {
      const h = oldHi[i] as number
      const l = oldLo[i] as number
      if (h !== 0 || l !== 0) this.add(h, l)
    }
  }
}
