/**
 * Reading a corpus profile (`RoleStats`) for display: labels, orderings and sums of the engine's
 * counts. Nothing here measures text; every count comes from the engine.
 */
import { REMOVAL_REASONS, type RemovalReason, type SourceStats, type SplitProfile } from '../../main/engine/contract'
import { formatNumber } from './format'

export const REMOVAL_LABELS: Record<RemovalReason, string> = {
  empty: 'Empty',
  'too-short': 'Too short',
  'no-letters': 'No letters',
  'wrong-script': 'Wrong script',
  duplicate: 'Duplicate',
}

/** Every reason in the contract's order, with its count; a reason the engine left out removed nothing. */
export function removalRows(removed: Partial<Record<RemovalReason, number>>): { reason: RemovalReason; label: string; count: number }[] {
  return REMOVAL_REASONS.map((reason) => ({ reason, label: REMOVAL_LABELS[reason], count: removed[reason] ?? 0 }))
}

/** All documents set aside, whatever the reason. */
export function removedTotal(removed: Partial<Record<RemovalReason, number>>): number {
  return REMOVAL_REASONS.reduce((sum, reason) => sum + (removed[reason] ?? 0), 0)
}

/** "jsonl", or "jsonl · gz" for a gzip-compressed file. */
export function sourceFormatLabel(source: Pick<SourceStats, 'format' | 'compressed'>): string {
  return source.compressed ? `${source.format} · gz` : source.format
}

export interface ScriptShare {
  /** ISO 15924 code, or `other`. */
  code: string
  letters: number
  /** Of all letters counted in the split (0 … 1). */
  share: number
}

/** Scripts by letters, most first (`other` last among equals), with each one's share of all letters. */
export function scriptShares(scripts: SplitProfile['scripts']): ScriptShare[] {
  const entries = Object.entries(scripts).filter(([, letters]) => Number.isFinite(letters) && letters > 0)
  const total = entries.reduce((sum, [, letters]) => sum + letters, 0)
  return entries
    .map(([code, letters]) => ({ code, letters, share: total > 0 ? letters / total : 0 }))
    .sort((a, b) => b.letters - a.letters || Number(a.code === 'other') - Number(b.code === 'other') || a.code.localeCompare(b.code))
}

/**
 * The x-axis label of a length-histogram bucket: "≤ 200 chars". A last bucket without a finite
 * bound (JSON has no Infinity) reads "> 5,000 chars", from the bucket before it.
 */
export function lengthBucketLabel(buckets: readonly { upTo: number | null }[], index: number, locale: string): string {
  const upTo = buckets[index]?.upTo
  if (typeof upTo === 'number' && Number.isFinite(upTo)) return `≤ ${formatNumber(upTo, locale)} chars`
  const before = index > 0 ? buckets[index - 1]?.upTo : undefined
  return typeof before === 'number' && Number.isFinite(before) ? `> ${formatNumber(before, locale)} chars` : 'longer'
}
