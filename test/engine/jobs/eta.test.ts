import { describe, expect, it } from 'vitest'
import { EtaEstimator } from '../../../main/engine/jobs/eta'
import { mulberry32 } from '../../../main/engine/common/rng'

/**
 * A 200-second job that reports in bursts, as data jobs do: a batch of text done every 0.1–1.5 s
 * (random), each 0.05–1.2% of the whole, with a 6-second stall every 40 s (a large file opened, a
 * shard synced), reported 20 times a second whether it moved or not.
 */
function burstyJob(seed: number): { t: number; f: number }[] {
  const rand = mulberry32(seed)
  const out: { t: number; f: number }[] = []
  let f = 0
  let nextBurst = 0
  for (let t = 0; f < 1; t += 0.05) {
    if (t >= nextBurst) {
      f = Math.min(1, f + 0.0005 + rand() * 0.0115)
      nextBurst = t + 0.1 + rand() * 1.4
      if (Math.floor(nextBurst / 40) > Math.floor(t / 40)) nextBurst += 6
    }
    out.push({ t, f })
  }
  return out
}

describe('the ETA of a job', () => {
  it('holds steady when progress comes in bursts and stalls', () => {
    for (const seed of [1, 2, 3]) {
      const job = burstyJob(seed)
      const total = job.at(-1)!.t
      const eta = new EtaEstimator()
      let previous: { t: number; eta: number } | null = null
      let worstJump = 0
      let worstError = 0
      for (const { t, f } of job) {
        const e = eta.update(f, t * 1000)
        if (e === null || t < 15) continue
        // Between two estimates the time left should fall by the time that passed: anything else is a jump.
        if (previous) worstJump = Math.max(worstJump, Math.abs(e - (previous.eta - (t - previous.t))))
        previous = { t, eta: e }
        // Once the window has seen a stall (no estimator foresees the first), the estimate is near the
        // truth; the bursts are random, so the truth itself wanders by a fair share of the job.
        if (t >= 50 && f < 0.9) worstError = Math.max(worstError, Math.abs(e - (total - t)) / total)
      }
      // No jump of more than a few seconds on a job of minutes, and never far from the truth.
      expect(worstJump, `seed ${seed}`).toBeLessThan(6)
      expect(worstError, `seed ${seed}`).toBeLessThan(0.25)
    }
  })

  it('follows a real change of pace within its window', () => {
    const eta = new EtaEstimator()
    let e: number | null = null
    // 1% a second for 30 s, then 0.25% a second: within the window (60 s) and a little more, the estimate is the new pace's.
    for (let t = 0; t <= 100; t += 0.5) e = eta.update(t <= 30 ? t / 100 : 0.3 + (t - 30) / 400, t * 1000)
    const f = 0.3 + 70 / 400
    expect(e).toBeGreaterThan(0.85 * ((1 - f) * 400))
    expect(e).toBeLessThan(1.15 * ((1 - f) * 400))
  })

  it('gives no estimate before a second of history, nor without progress', () => {
    const eta = new EtaEstimator()
    expect(eta.update(0.1, 0)).toBeNull()
    expect(eta.update(0.2, 500)).toBeNull()
    const still = new EtaEstimator()
    still.update(0.3, 0)
    expect(still.update(0.3, 5000)).toBeNull()
  })
})
