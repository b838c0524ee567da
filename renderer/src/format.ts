/**
 * Formatting of numbers the engine computed. Nothing here computes a measurement; it only says
 * one in words. `locale` is the UI locale (`navigator.language` in views).
 */

const GiB = 1024 ** 3
const MiB = 1024 ** 2

export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(0)} MiB`
  return `${Math.round(bytes / 1024)} KiB`
}

/** "about 2 min left"; null when there is no estimate yet. */
export function formatEta(seconds: number | null): string | null {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return null
  if (seconds < 10) return 'a few seconds left'
  if (seconds < 60) return `about ${Math.round(seconds / 5) * 5} s left`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `about ${minutes} min left`
  const hours = Math.floor(minutes / 60)
  const rest = minutes % 60
  return rest === 0 ? `about ${hours} h left` : `about ${hours} h ${rest} min left`
}

const RELATIVE_STEPS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
  ['week', 4.35],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
]

/** "3 days ago", "yesterday", "just now". */
export function formatRelativeTime(iso: string, locale: string, now: number = Date.now()): string {
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return iso
  let value = (then - now) / 1000
  if (Math.abs(value) < 45) return 'just now'
  const format = new Intl.RelativeTimeFormat([locale, 'en'], { numeric: 'auto' })
  for (const [unit, size] of RELATIVE_STEPS) {
    if (Math.abs(value) < size) return format.format(Math.round(value), unit)
    value /= size
  }
  return iso
}

export function formatDateTime(iso: string, locale: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return new Intl.DateTimeFormat([locale, 'en'], { dateStyle: 'medium', timeStyle: 'short' }).format(date)
}

/** A share (0 … 1) as a percentage: 0.25 → "25%". */
export function formatPercent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`
}

export function formatNumber(value: number, locale: string): string {
  return new Intl.NumberFormat([locale, 'en'], { maximumFractionDigits: 6 }).format(value)
}

/** The language's name in the UI locale ("Hungarian"), or null when `Intl` does not know the code. */
export function languageName(code: string, locale: string): string | null {
  try {
    const name = new Intl.DisplayNames([locale, 'en'], { type: 'language', fallback: 'none' }).of(code)
    return name && name !== code ? name : null
  } catch {
    return null
  }
}
