/**
 * Estimates the time left from the progress fraction over time. The rate is smoothed
 * exponentially so that one slow step does not make the estimate jump; no estimate is given until
 * there is a little history.
 */
export class EtaEstimator {
  private lastT: number | null = null
  private lastF = 0
  private rate: number | null = null // fraction per second

  constructor(
    private readonly smoothing = 0.3,
    private readonly minSeconds = 1,
  ) {}

  private startT: number | null = null

  /** Feeds a new fraction at time `nowMs`; returns seconds left, or null if unknown. */
  update(fraction: number, nowMs: number): number | null {
    if (this.startT === null) {
      this.startT = nowMs
      this.lastT = nowMs
      this.lastF = fraction
      return null
    }
    const dt = (nowMs - (this.lastT as number)) / 1000
    const df = fraction - this.lastF
    if (dt > 0 && df > 0) {
      const r = df / dt
      this.rate = this.rate === null ? r : this.smoothing * r + (1 - this.smoothing) * this.rate
      this.lastT = nowMs
      this.lastF = fraction
    }
    if (this.rate === null || this.rate <= 0) return null
    if ((nowMs - this.startT) / 1000 < this.minSeconds) return null
    return Math.max(0, (1 - fraction) / this.rate)
  }
}
