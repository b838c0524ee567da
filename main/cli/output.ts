import type { JobSnapshotOf } from '../engine/contract'

/** Any job: the output shows its title and progress, whatever its kind. */
type JobSnapshot = JobSnapshotOf<string>
import type { ErrorInfo } from '../engine/common/errors'

/**
 * How the CLI talks: human text by default (a progress bar on a terminal), or with `--json` one
 * JSON document on stdout for the result and JSON lines on stderr for progress.
 */

export interface Output {
  json: boolean
  /** The final result: a JSON document, or the human rendering of it. */
  result(value: unknown, human: () => string): void
  /** A job's progress; draws a bar on a TTY, a JSON line with --json, nothing otherwise. */
  progress(job: JobSnapshot): void
  /** Clears the progress bar (before printing anything else). */
  endProgress(): void
  error(info: ErrorInfo): void
  info(text: string): void
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  const m = Math.floor(seconds / 60)
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

/** One line: `[########----------]  42%  message  ETA 1m05s`, fitted to `width` columns. */
export function progressLine(job: JobSnapshot, width = 80): string {
  const f = job.progress.fraction
  const barWidth = Math.max(10, Math.min(30, width - 40))
  const filled = f === null ? 0 : Math.round(f * barWidth)
  const bar = f === null ? '·'.repeat(barWidth) : '#'.repeat(filled) + '-'.repeat(barWidth - filled)
  const pct = f === null ? '  … ' : `${String(Math.floor(f * 100)).padStart(3)}%`
  const eta = job.progress.etaSeconds !== null ? `  ETA ${formatDuration(job.progress.etaSeconds)}` : ''
  const head = `[${bar}] ${pct}  `
  const room = Math.max(0, width - head.length - eta.length - 1)
  const msg = job.progress.message.length > room ? job.progress.message.slice(0, Math.max(0, room - 1)) + '…' : job.progress.message
  return head + msg + eta
}

export function createOutput(opts: { json: boolean; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream }): Output {
  const stdout = opts.stdout ?? process.stdout
  const stderr = opts.stderr ?? process.stderr
  const tty = Boolean(stderr.isTTY)
  let barShown = false
  const clear = () => {
    if (barShown) {
      stderr.write('\r\x1b[2K')
      barShown = false
    }
  }
  return {
    json: opts.json,
    result(value, human) {
      clear()
      stdout.write(opts.json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n')
    },
    progress(job) {
      if (opts.json) {
        stderr.write(JSON.stringify({ type: 'progress', job: job.id, state: job.state, ...job.progress }) + '\n')
      } else if (tty) {
        stderr.write('\r\x1b[2K' + progressLine(job, stderr.columns ?? 80))
        barShown = true
      }
    },
    endProgress: clear,
    error(info) {
      clear()
      if (opts.json) {
        stdout.write(JSON.stringify({ error: info }, null, 2) + '\n')
        return
      }
      const lines = [`error: ${info.message}`]
      for (const d of info.details ?? []) lines.push(`  - ${d}`)
      if (info.hint) lines.push(`hint: ${info.hint}`)
      stderr.write(lines.join('\n') + '\n')
    },
    info(text) {
      clear()
      if (!opts.json) stderr.write(text + '\n')
    },
  }
}
