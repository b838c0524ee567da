/**
 * PCG32 (O'Neill 2014, "PCG: A Family of Simple Fast Space-Efficient Statistically Good Algorithms
 * for Random Number Generation"), the `pcg32_random_r` generator of the reference pcg-c-basic
 * library: 64-bit LCG state, XSH-RR output of 32 bits. It drives everything in training that must
 * be reproduced exactly by another implementation (the English replay draws and the document
 * shuffles), so it is specified here to the bit, with the reference's own test vectors in its test:
 *
 *   step:    state ← state · 6364136223846793005 + inc   (mod 2^64), inc odd
 *   output:  x = ((old >> 18) ^ old) >> 27 (low 32 bits), r = old >> 59, out = rotr32(x, r)
 *   seeding: state = 0, inc = (seq << 1) | 1; step; state += initstate; step    (pcg32_srandom_r)
 *   bounded: threshold = (2^32 − bound) mod bound; draw until out ≥ threshold; out mod bound
 *   float:   out / 2^32, in [0, 1)
 *
 * docs/training-data.md shows the same in Python.
 */

const MASK64 = (1n << 64n) - 1n
const MULTIPLIER = 6364136223846793005n

/** A generator's whole state, as decimal strings (JSON has no 64-bit integers). */
export interface Pcg32State {
  state: string
  inc: string
}

export class Pcg32 {
  private state = 0n
  private inc = 1n

  /** Seeded as `pcg32_srandom_r(initstate, initseq)`. */
  constructor(initstate: number | bigint, initseq: number | bigint = 54) {
    this.inc = ((BigInt(initseq) << 1n) | 1n) & MASK64
    this.state = 0n
    this.nextUint32()
    this.state = (this.state + (BigInt(initstate) & MASK64)) & MASK64
    this.nextUint32()
  }

  static restore(s: Pcg32State): Pcg32 {
    const g = new Pcg32(0)
    g.state = BigInt(s.state) & MASK64
    g.inc = BigInt(s.inc) & MASK64
    return g
  }

  save(): Pcg32State {
    return { state: this.state.toString(), inc: this.inc.toString() }
  }

  /** The next 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    const old = this.state
    this.state = (old * MULTIPLIER + this.inc) & MASK64
    const xorshifted = Number((((old >> 18n) ^ old) >> 27n) & 0xffffffffn)
    const rot = Number(old >> 59n)
    return ((xorshifted >>> rot) | (xorshifted << (-rot & 31))) >>> 0
  }

  /** A uniform integer in [0, bound), without modulo bias (`pcg32_boundedrand_r`). */
  bounded(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > 0xffffffff) throw new RangeError(`bound must be an integer from 1 to 2^32 − 1, not ${bound}`)
    const threshold = (0x100000000 - bound) % bound
    for (;;) {
      const r = this.nextUint32()
      if (r >= threshold) return r % bound
    }
  }

  /** A uniform float in [0, 1): the next output divided by 2^32. */
  float(): number {
    return this.nextUint32() / 0x100000000
  }

  /**
   * Shuffles `items` in place with Fisher–Yates from the end: for i = n−1 down to 1, swap items[i]
   * with items[bounded(i + 1)].
   */
  shuffle<T>(items: T[] | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.bounded(i + 1)
      const t = items[i]!
      items[i] = items[j]!
      items[j] = t
    }
  }
}
