import { describe, expect, it } from 'vitest'
import { formatBytes, formatDuration, progressLine } from '../../main/cli/output'
import type { JobSnapshot } from '../../main/engine/contract'

const job = (fraction: number | null, message: string, etaSeconds: number | null): JobSnapshot => ({
  id: 'j',
  revision: 1,
  kind: 'benchmark',
  title: 't',
  projectDir: null,
  labels: {},
  state: 'running',
  progress: { fraction, message, etaSeconds },
  createdAt: '',
  startedAt: null,
  finishedAt: null,
  error: null,
  result: null,
  logFile: null,
})

describe('CLI output', () => {
  it('draws a progress bar with percentage, message and ETA that fits the width', () => {
    const line = progressLine(job(0.5, 'Reading corpus.txt', 75), 80)
    expect(line).toMatch(/^\[#{15}-{15}\] {2}50% {2}Reading corpus\.txt {2}ETA 1m15s$/)
    expect(progressLine(job(0.5, 'x'.repeat(200), 5), 80).length).toBeLessThanOrEqual(80)
    expect(progressLine(job(null, 'Starting…', null), 80)).toContain('…')
  })

  it('formats durations and sizes', () => {
    expect(formatDuration(4.2)).toBe('5s')
    expect(formatDuration(3725)).toBe('1h02m')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(24 * 1024 ** 3)).toBe('24.0 GiB')
  })
})
