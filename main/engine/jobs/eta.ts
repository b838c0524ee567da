/**
 * Estimates the time left from the progress fraction over time, steadily: long data jobs report
 * progress in bursts (a batch of documents, a file, a shard written) and stall now and then, and an
 * estimate that follows each burst or stall jumps by minutes.
 *
 * - The rate is the progress over a sliding window (`windowSeconds`, default 60 s; since the start
 *   while the job is younger), sampled at most every `sampleSeconds`: bursts and short stalls
 *   average out, and how often a job reports does not matter.
 * - The estimate shown counts down with the clock and moves towards the fresh one (time left at
 *   that rate) with a time constant (`tauSeconds`, default 5 s), so that a change of pace shows
 *   within seconds but never as a jump.
 * - No estimate before `minSeconds` of history, nor while nothing has moved.
 */
export class EtaEstimator {
  private readonly samples: { t: number; f: number }[] = []
  private shown: { t: number; eta: number } | null = null

  constructor(
    private readonly windowSeconds = 60,
    private readonly tauSeconds = 5,
    private readonly minSeconds = 1,
    private readonly sampleSeconds = 0.5,
  ) {}

  /** Feeds a new fraction at time `nowMs`; returns seconds left, or null if unknown. */
  update(fraction: number, nowMs: number): number | null {
    const t = nowMs / 1000
    const last = this.samples.at(-1)
    if (!last || t - last.t >= this.sampleSeconds) this.samples.push({ t, f: fraction })
    // The oldest sample kept is the last one at least a window old (or the first).
    while (this.samples.length > 2 && t - (this.samples[1] as { t: number }).t >= this.windowSeconds) this.samples.shift()
    const first = this.samples[0] as { t: number; f: number }
    const span = t - first.t
    const rate = span > 0 ? (fraction - first.f) / span : 0
    if (span < this.minSeconds || !(rate > 0)) return this.shown ? this.countdown(t) : null
    const fresh = Math.max(0, (1 - fraction) / rate)
    if (!this.shown) {
      this.shown = { t, eta: fresh }
      return fresh
    }
    const counted = this.countdown(t)
    const w = 1 - Math.exp(-(t - this.shown.t) / this.tauSeconds)
    this.shown = { t, eta: counted + w * (fresh - counted) }
    return this.shown.eta
  }

  /** The shown estimate, counted down to `t`. */
  private countdown(t: number): number {
    const s = this.shown as { t: number; eta: number }
    return Math.max(0, s.eta - (t - s.t))
  }
}
