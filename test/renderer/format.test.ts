import { describe, expect, it } from 'vitest'
import { formatBytes, formatDuration, formatEta, formatNumber, formatScientific, formatPercent, formatRelativeTime, languageName, scriptName } from '../../renderer/src/format'
import { resolveLanguageInput } from '../../renderer/src/languages'
import { joinPath, slug } from '../../renderer/src/paths'

describe('formatEta', () => {
  it('says the time left in rounded words', () => {
    expect(formatEta(null)).toBeNull()
    expect(formatEta(-1)).toBeNull()
    expect(formatEta(4)).toBe('a few seconds left')
    expect(formatEta(42)).toBe('about 40 s left')
    expect(formatEta(125)).toBe('about 2 min left')
    expect(formatEta(3600)).toBe('about 1 h left')
    expect(formatEta(3600 + 25 * 60)).toBe('about 1 h 25 min left')
  })
})

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(16 * 1024 ** 3)).toBe('16.0 GiB')
    expect(formatBytes(512 * 1024 ** 2)).toBe('512 MiB')
    expect(formatBytes(2048)).toBe('2 KiB')
  })

  it('keeps one decimal below ten units and shows small sizes in bytes', () => {
    expect(formatBytes(812)).toBe('812 B')
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(3.4 * 1024)).toBe('3.4 KiB')
    expect(formatBytes(210_000)).toBe('205 KiB')
    expect(formatBytes(1.5 * 1024 ** 2)).toBe('1.5 MiB')
    expect(formatBytes(1500 * 1024 ** 3)).toBe('1,500.0 GiB')
  })

  it('uses the locale’s separators', () => {
    expect(formatBytes(1.5 * 1024 ** 2, 'de')).toBe('1,5 MiB')
    expect(formatBytes(2 * 1024 ** 3, 'de')).toBe('2,0 GiB')
  })
})

describe('formatRelativeTime', () => {
  const now = Date.parse('2025-03-10T12:00:00Z')
  it('describes how long ago', () => {
    expect(formatRelativeTime('2025-03-10T11:59:50Z', 'en', now)).toBe('just now')
    expect(formatRelativeTime('2025-03-10T11:55:00Z', 'en', now)).toBe('5 minutes ago')
    expect(formatRelativeTime('2025-03-09T12:00:00Z', 'en', now)).toBe('yesterday')
    expect(formatRelativeTime('2025-03-07T12:00:00Z', 'en', now)).toBe('3 days ago')
    expect(formatRelativeTime('not a date', 'en', now)).toBe('not a date')
  })
})

describe('formatPercent / languageName', () => {
  it('formats shares and language names', () => {
    expect(formatPercent(0.25)).toBe('25%')
    expect(formatPercent(0.125)).toBe('12.5%')
    expect(formatPercent(0)).toBe('0%')
    expect(formatPercent(0.0004)).toBe('< 0.1%')
    expect(formatPercent(0.9997)).toBe('> 99.9%')
    expect(formatPercent(1)).toBe('100%')
    expect(formatPercent(0.5, 'de')).toBe('50\u00a0%')
    expect(formatNumber(1234567, 'en')).toBe('1,234,567')
    expect(formatNumber(1234567, 'de')).toBe('1.234.567')
    expect(languageName('hu', 'en')).toBe('Hungarian')
    expect(languageName('th', 'en')).toBe('Thai')
    expect(languageName('qqq', 'en')).toBeNull()
  })

  it('names scripts from their ISO 15924 codes', () => {
    expect(scriptName('Latn', 'en')).toBe('Latin')
    expect(scriptName('Thai', 'en')).toBe('Thai')
    expect(scriptName('Cyrl', 'de')).toBe('Kyrillisch')
    expect(scriptName('other', 'en')).toBe('Other')
    expect(scriptName('Qaaa', 'en')).toBeNull()
    expect(scriptName('not a code', 'en')).toBeNull()
  })
})

describe('slug / joinPath', () => {
  it('makes folder names from project names in any script', () => {
    expect(slug('Magyar Llama 2')).toBe('magyar-llama-2')
    expect(slug('  Árvíztűrő / tükörfúrógép ')).toBe('árvíztűrő-tükörfúrógép')
    expect(slug('ภาษาไทย')).toBe('ภาษาไทย')
    expect(slug('')).toBe('new-project')
    expect(slug('!!!')).toBe('new-project')
    expect(slug('x'.repeat(100))).toHaveLength(60)
  })

  it('joins with the separator the folder already uses', () => {
    expect(joinPath('/home/u/Vernacular', 'p')).toBe('/home/u/Vernacular/p')
    expect(joinPath('/home/u/Vernacular/', 'p')).toBe('/home/u/Vernacular/p')
    expect(joinPath('C:\\Users\\u\\Vernacular', 'p')).toBe('C:\\Users\\u\\Vernacular\\p')
    expect(joinPath('/', 'p')).toBe('/p')
    expect(joinPath('', 'p')).toBe('p')
  })
})

describe('resolveLanguageInput', () => {
  it('turns a typed language name into its code, and leaves codes alone', () => {
    expect(resolveLanguageInput('Hungarian')).toBe('hu')
    expect(resolveLanguageInput('magyar')).toBe('hu')
    expect(resolveLanguageInput('ไทย')).toBe('th')
    expect(resolveLanguageInput('pt-BR')).toBe('pt-BR')
  })
})

describe('formatDuration', () => {
  it('says a span of time in round words', () => {
    expect(formatDuration(0.4)).toBe('about 1 s')
    expect(formatDuration(42)).toBe('about 42 s')
    expect(formatDuration(12 * 60 + 10)).toBe('about 12 min')
    expect(formatDuration(3 * 3600 + 20 * 60)).toBe('about 3 h 20 min')
    expect(formatDuration(2 * 3600)).toBe('about 2 h')
    expect(formatDuration(53 * 3600)).toBe('about 2 days 5 h')
    expect(formatDuration(Number.NaN)).toBe('—')
  })
})

describe('formatScientific', () => {
  it('writes learning rates and losses in few digits', () => {
    expect(formatScientific(1e-4)).toBe('1e-4')
    expect(formatScientific(3.5e-5)).toBe('3.5e-5')
    expect(formatScientific(9.87654)).toBe('9.877')
    expect(formatScientific(0.25)).toBe('0.25')
    expect(formatScientific(0)).toBe('0')
  })
})
