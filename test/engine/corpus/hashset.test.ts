import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../../../main/engine/common/rng'
import { HashSet64 } from '../../../main/engine/corpus/hashset'

describe('HashSet64', () => {
  it('holds every key once through many doublings, whatever the halves', () => {
    const set = new HashSet64(16)
    const rand = mulberry32(11)
    const keys: [number, number][] = []
    for (let i = 0; i < 200_000; i++) keys.push([(rand() * 2 ** 32) >>> 0, i % 3 === 0 ? 0 : (rand() * 2 ** 32) >>> 0])
    // keys that collide in the probe hash (lo ^ hi equal), and the zero key
    for (let i = 0; i < 1000; i++) keys.push([i, i], [i + 7, i + 7])
    keys.push([0, 0])
    const strings = new Set<string>()
    for (const [hi, lo] of keys) {
      const fresh = !strings.has(`${hi}:${lo}`)
      strings.add(`${hi}:${lo}`)
      expect(set.add(hi, lo)).toBe(fresh)
    }
    expect(set.size).toBe(strings.size)
    for (const [hi, lo] of keys) expect(set.add(hi, lo)).toBe(false)
    expect(set.size).toBe(strings.size)
    // (0, 0) is stored as (0, 1): the two are one key
    expect(set.add(0, 1)).toBe(false)
  })

  it('stays between 10 and 20 bytes a key once past its first size (load 0.4 to 0.8)', () => {
    const set = new HashSet64(16)
    for (let i = 1; i <= 100_000; i++) {
      set.add(i, Math.imul(i, 2654435761) >>> 0)
      if (i >= 1000) {
        expect(set.bytes / set.size).toBeGreaterThanOrEqual(10)
        expect(set.bytes / set.size).toBeLessThanOrEqual(20.01)
      }
    }
  })
})
