/**
 * Seeded pseudo-random numbers, for everything that a seed must reproduce: document samples,
 * weight initialisation. mulberry32 (Tommy Ettinger's 32-bit generator) gives uniform floats in
 * [0, 1); Box–Muller turns pairs of them into standard normals.
 */

/** A small, seedable PRNG (mulberry32): uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draws (mulberry32 + Box–Muller), for initialisation that a seed reproduces. */
export function normalRng(seed: number): () => number {
  const uniform = mulberry32(seed)
  let spare: number | null = null
  return () => {
    if (spare !== null) {
      const v = spare
      spare = null
      return v
    }
    let u = 0
    while (u === 0) u = uniform()
    const v = uniform()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}
