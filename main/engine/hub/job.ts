/** `model download` as a job: progress in bytes with the speed, cancel through the job's signal. */
import type { HubDownloadResult } from '../contract'
import type { JobContext } from '../jobs/manager'
import { downloadModel } from './client'

/** Binary units, as the app shows sizes: "812 B", "3.4 KiB", "126 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`
}

/** Speed over the last few seconds, so that a stall shows at once. */
export class SpeedMeter {
  private readonly samples: { t: number; bytes: number }[] = []
  constructor(private readonly windowMs = 5000) {}
  update(bytes: number, now = Date.now()): number | null {
    this.samples.push({ t: now, bytes })
    while (this.samples.length > 2 && now - this.samples[0]!.t > this.windowMs) this.samples.shift()
    const first = this.samples[0]!
    const dt = (now - first.t) / 1000
    return dt >= 0.2 ? (bytes - first.bytes) / dt : null
  }
}

export async function downloadJob(repo: string, revision: string | undefined, out: string | undefined, ctx: JobContext): Promise<HubDownloadResult> {
  ctx.progress({ message: `Listing ${repo} on the Hub…` })
  const speed = new SpeedMeter()
  const result = await downloadModel(repo, revision, {
    signal: ctx.signal,
    ...(out !== undefined ? { out } : {}),
    onProgress: (p) => {
      const rate = speed.update(p.fetched)
      const eta = rate && rate > 0 ? (p.total - p.done) / rate : null
      ctx.progress({
        done: p.done,
        total: p.total,
        message: `${p.file}: ${formatBytes(p.done)} of ${formatBytes(p.total)}${rate === null ? '' : ` at ${formatBytes(rate)}/s`}`,
        metrics: { bytes: p.done, totalBytes: p.total, bytesPerSecond: rate, etaSeconds: eta },
      })
    },
  })
  ctx.log(`Downloaded ${repo}@${result.revision} (${result.commit}): ${result.files.length} files, ${formatBytes(result.totalBytes)}; ${formatBytes(result.fetchedBytes)} fetched, into ${result.folder}`)
  return result
}
