import { describe, expect, it } from 'vitest'
import { Pcg32 } from '../../../main/engine/common/pcg32'

describe('PCG32', () => {
  it('gives the reference implementation’s outputs (pcg-c-basic, seeded 42, 54)', () => {
    const g = new Pcg32(42, 54)
    expect(Array.from({ length: 6 }, () => g.nextUint32())).toEqual([0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e])
  })

  it('draws bounded integers and floats as pcg32_boundedrand_r and out / 2^32', () => {
    // Computed with the reference C code (pcg32_boundedrand_r) for the same seeds.
    const g = new Pcg32(42, 54)
    expect(Array.from({ length: 6 }, () => g.bounded(1000))).toEqual([783, 97, 824, 955, 955, 566])
    const h = new Pcg32(7, 1)
    expect(Array.from({ length: 4 }, () => h.bounded(3))).toEqual([2, 1, 1, 0])
    expect(h.save()).toEqual({ state: '8308356281996127289', inc: '3' })
    const f = new Pcg32(42, 54)
    expect(f.float()).toBe(0xa15c02b7 / 2 ** 32)
    expect(() => f.bounded(0)).toThrow(RangeError)
  })

  it('saves and restores its state exactly', () => {
    const g = new Pcg32(123, 9)
    for (let i = 0; i < 10; i++) g.nextUint32()
    const copy = Pcg32.restore(JSON.parse(JSON.stringify(g.save())))
    expect(Array.from({ length: 100 }, () => copy.nextUint32())).toEqual(Array.from({ length: 100 }, () => g.nextUint32()))
  })

  it('shuffles by Fisher–Yates from the end, a permutation the seed fixes', () => {
    const a = Array.from({ length: 10 }, (_, i) => i)
    new Pcg32(42, 54).shuffle(a)
    // The same swaps by hand: i = 9 … 1 with j = bounded(i + 1).
    const b = Array.from({ length: 10 }, (_, i) => i)
    const g = new Pcg32(42, 54)
    for (let i = 9; i > 0; i--) {
      const j = g.bounded(i + 1)
      ;[b[i], b[j]] = [b[j]!, b[i]!]
    }
    expect(a).toEqual(b)
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i))
    expect(a).not.toEqual(Array.from({ length: 10 }, (_, i) => i))
    const typed = Uint32Array.from({ length: 10 }, (_, i) => i)
    new Pcg32(42, 54).shuffle(typed)
    expect(Array.from(typed)).toEqual(a)
  })

  it('is uniform enough: bounded draws fill every bucket near its share', () => {
    const g = new Pcg32(2024)
    const counts = new Array(10).fill(0)
    for (let i = 0; i < 100_000; i++) counts[g.bounded(10)]++
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500)
  })
})
