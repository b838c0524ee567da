/**
 * Decoders from tokenizer.json: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip and
 * Sequence, each a step over the list of token strings as in Hugging Face's `decode_chain`.
 */
import { EngineError } from '../common/errors'
import { CHAR_TO_BYTE } from './bytelevel'
import { patternRegExp } from './normalizers'

export type Decoder = (tokens: string[]) => string[]

type Json = Record<string, unknown>

const utf8 = new TextEncoder()
const lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true })
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/

export function buildDecoder(json: unknown, where = 'decoder'): Decoder | null {
  if (json === null || json === undefined) return null
  const d = json as Json
  switch (d.type) {
    case 'Sequence': {
      const list = ((d.decoders as unknown[] | undefined) ?? []).map((x, i) => buildDecoder(x, `${where}.decoders[${i}]`)).filter((x): x is Decoder => x !== null)
      return (tokens) => list.reduce((acc, f) => f(acc), tokens)
    }
    case 'ByteLevel':
      return (tokens) => {
        const bytes: number[] = []
        for (const t of tokens) {
          const mapped: number[] = []
          let ok = true
          for (const ch of t) {
            const b = CHAR_TO_BYTE.get(ch)
            if (b === undefined) {
              ok = false
              break
            }
            mapped.push(b)
          }
          if (ok) for (const b of mapped) bytes.push(b)
          else for (const b of utf8.encode(t)) bytes.push(b)
        }
        return [lossy.decode(Uint8Array.from(bytes))]
      }
    case 'Metaspace': {
      const replacement = String(d.replacement ?? '▁')
      const scheme = typeof d.prepend_scheme === 'string' ? d.prepend_scheme : d.add_prefix_space === false ? 'never' : 'always'
      // As Hugging Face does: in the first token every mark is dropped (not only a leading one).
      return (tokens) => tokens.map((t, i) => t.split(replacement).join(i === 0 && scheme !== 'never' ? '' : ' '))
    }
    case 'Replace': {
      const re = patternRegExp(d.pattern, `${where}.pattern`)
      const content = String(d.content ?? '')
      return (tokens) => tokens.map((t) => t.replace(re, () => content))
    }
    case 'ByteFallback':
      return (tokens) => {
        const out: string[] = []
        let pending: number[] = []
        const flush = () => {
          if (pending.length === 0) return
          try {
            out.push(strict.decode(Uint8Array.from(pending)))
          } catch {
            for (let i = 0; i < pending.length; i++) out.push('\uFFFD')
          }
          pending = []
        }
        for (const t of tokens) {
          const m = BYTE_TOKEN.exec(t)
          if (m) pending.push(parseInt(m[1]!, 16))
          else {
            flush()
            out.push(t)
          }
        }
        flush()
        return out
      }
    case 'Fuse':
      return (tokens) => [tokens.join('')]
    case 'Strip': {
      const content = String(d.content ?? ' ')
      const start = Number(d.start ?? 0)
      const stop = Number(d.stop ?? 0)
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t]
          let a = 0
          let b = chars.length
          while (a < start && a < b && chars[a] === content) a++
          let k = 0
          while (k < stop && b > a && chars[b - 1] === content) {
            b--
            k++
          }
          return chars.slice(a, b).join('')
        })
    }
    default:
      throw new EngineError('bad-input', `${where}: the decoder type ${JSON.stringify(d.type)} is not supported yet`, {
        hint: 'Supported decoders: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip.',
      })
  }
}
