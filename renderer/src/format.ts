/**
 * Formatting of numbers the engine computed. Nothing here computes a measurement; it only says
 * one in words. `locale` is the UI locale (`navigator.language` in views).
 */

const KiB = 1024
const MiB = 1024 ** 2
const GiB = 1024 ** 3

/**
 * Bytes in binary units: "812 B", "3.4 KiB", "12 MiB", "16.0 GiB". Below ten units one decimal
 * is kept, so small corpora do not all read "0 KiB".
 */
export function formatBytes(bytes: number, locale: string = 'en'): string {
  const number = (value: number, digits: number, minimum = 0) =>
    new Intl.NumberFormat([locale, 'en'], { minimumFractionDigits: minimum, maximumFractionDigits: digits }).format(value)
  if (bytes >= GiB) return `${number(bytes / GiB, 1, 1)} GiB`
  if (bytes >= MiB) return `${number(bytes / MiB, bytes < 10 * MiB ? 1 : 0)} MiB`
  if (bytes >= KiB) return `${number(bytes / KiB, bytes < 10 * KiB ? 1 : 0)} KiB`
  return `${number(bytes, 0)} B`
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

/**
 * A share (0 … 1) as a percentage: 0.25 → "25%", 0.125 → "12.5%". A share that is not 0 or 1 never
 * rounds to either: 0.0004 → "< 0.1%", 0.9997 → "> 99.9%".
 */
export function formatPercent(share: number, locale: string = 'en'): string {
  const format = new Intl.NumberFormat([locale, 'en'], { style: 'percent', maximumFractionDigits: 1 })
  if (share > 0 && share < 0.0005) return `< ${format.format(0.001)}`
  if (share < 1 && share >= 0.9995) return `> ${format.format(0.999)}`
  return format.format(share)
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

/**
 * A Unicode script's name in the UI locale, from its ISO 15924 code ("Latn" → "Latin"); the
 * engine's `other` bucket is "Other". Null when `Intl` does not know the code.
 */
export function scriptName(code: string, locale: string): string | null {
  if (code === 'other') return 'Other'
  try {
    // Some scripts are named by their code ("Thai"), so unlike languageName this keeps a name equal to it.
    return new Intl.DisplayNames([locale, 'en'], { type: 'script', fallback: 'none' }).of(code) ?? null
  } catch {
    return null
  }
}

/** A number with exactly `digits` decimals: 3.976 → "3.98". */
export function formatDecimal(value: number, digits: number, locale: string = 'en'): string {
  return new Intl.NumberFormat([locale, 'en'], { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value)
}

/** A relative change (−0.25 is a quarter less) as a signed percentage: "−45.7%", "+0.3%", "0%". */
export function formatChange(change: number, locale: string = 'en'): string {
  return new Intl.NumberFormat([locale, 'en'], { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(change)
}

/** Seconds of work: "0.4 s", "12 s", "3 min 5 s". */
export function formatSeconds(seconds: number, locale: string = 'en'): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—'
  if (seconds < 10) return `${formatDecimal(seconds, 1, locale)} s`
  const total = Math.round(seconds)
  if (total < 60) return `${total} s`
  const minutes = Math.floor(total / 60)
  const rest = total % 60
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`
}

/**
 * A large count in short form, as model sizes are written: 3,349,312 → "3.35M", 124,439,808 →
 * "124M", 1,100,048,384 → "1.1B". Below a thousand the number itself.
 */
export function formatCompact(value: number, locale: string = 'en'): string {
  if (!Number.isFinite(value)) return '—'
  return new Intl.NumberFormat([locale, 'en'], { notation: 'compact', maximumSignificantDigits: 3 }).format(value)
}

/** A long span of time in round words: "about 40 s", "about 12 min", "about 3 h 20 min", "about 2 days 5 h". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—'
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `about ${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) {
    const rest = minutes % 60
    return rest === 0 ? `about ${hours} h` : `about ${hours} h ${rest} min`
  }
  const days = Math.floor(hours / 24)
  const restHours = hours % 24
  return restHours === 0 ? `about ${days} days` : `about ${days} days ${restHours} h`
}

/** A small or large value in few digits, as learning rates and losses are written: 0.0001 → "1e-4", 3.5e-5 → "3.5e-5", 9.8765 → "9.877". */
export function formatScientific(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '—'
  if (value === 0) return '0'
  const abs = Math.abs(value)
  if (abs >= 0.01 && abs < 100_000) return String(Number(value.toPrecision(digits + 1)))
  const [mantissa, exponent] = value.toExponential(digits - 1).split('e')
  return `${String(Number(mantissa))}e${Number(exponent)}`
}
