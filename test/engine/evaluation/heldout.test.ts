import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import { wordCounter } from '../../../main/engine/corpus/words'
import { scoreDocuments, scoreTextFile } from '../../../main/engine/evaluation/heldout'
import { rollingRequestWindows } from '../../../main/engine/evaluation/requests'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { CausalLM } from '../../../main/engine/model/model'
import { modelLogits } from '../../../main/engine/model/operations'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { useTmp } from '../../helpers/tmp'
import { TOKENIZER_FILES, demoText } from '../tokenizer/fixtures'

const tmp = useTmp()
const FIXTURES = join(__dirname, '..', 'model', 'fixtures')
const EOT = 50256

/** A tiny GPT-2 with GPT-2's tokenizer; `special` says which of BOS and EOS its config names. */
async function smallGpt2(positions: number, special: { bos?: number; eos?: number }): Promise<string> {
  const dir = tmp()
  const config = { model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: positions, bos_token_id: special.bos, eos_token_id: special.eos }
  await writeInitialisedModel(dir, parseModelConfig(config, 'config.json'), { seed: 5, std: 0.5 })
  await fs.copyFile(TOKENIZER_FILES.gpt2, join(dir, 'tokenizer.json'))
  return dir
}

/** −log softmax(row)[target], in float64. */
function nllOf(row: readonly number[], target: number): number {
  let max = -Infinity
  for (const v of row) max = Math.max(max, v)
  let sum = 0
  for (const v of row) sum += Math.exp(v - max)
  return max + Math.log(sum) - (row[target] as number)
}

/** The NLL of `ids` after their first `skip` + 1, each predicted from the ids before it, from the model's logits. */
async function handNll(dir: string, ids: number[], skip = 0): Promise<number> {
  const { logits } = await modelLogits(dir, ids.slice(0, -1))
  let nll = 0
  for (let p = skip; p < ids.length - 1; p++) nll += nllOf(logits[p] as number[], ids[p + 1] as number)
  return nll
}

async function writeLines(lines: string[]): Promise<string> {
  const file = join(tmp(), 'lines.txt')
  await fs.writeFile(file, lines.join('\n') + '\n\n')
  return file
}

describe('held-out scoring (loglikelihood_rolling)', () => {
  it('makes the harness’s rolling windows: every token predicted once, the last window with a full context', () => {
    // get_rolling_token_windows(tokens, prefix 1, max_seq_len 3, context_len 1), made disjoint.
    expect(rollingRequestWindows([10, 11, 12, 13, 14, 15, 16], 1, 3)).toEqual([
      { ids: [1, 10, 11, 12], skip: 0 },
      { ids: [12, 13, 14, 15], skip: 0 },
      { ids: [13, 14, 15, 16], skip: 2 },
    ])
    expect(rollingRequestWindows([10, 11], 1, 3)).toEqual([{ ids: [1, 10, 11], skip: 0 }])
    // With no prefix token, the first token is read but never predicted.
    expect(rollingRequestWindows([10, 11, 12, 13], null, 3)).toEqual([{ ids: [10, 11, 12, 13], skip: 0 }])
    expect(rollingRequestWindows([10], null, 3)).toEqual([])
    expect(rollingRequestWindows([], 1, 3)).toEqual([])
    for (const n of [1, 2, 5, 16, 17, 40, 47]) {
      const tokens = Array.from({ length: n }, (_, i) => 100 + i)
      const windows = rollingRequestWindows(tokens, 1, 16)
      const predicted = windows.flatMap((w) => w.ids.slice(1 + w.skip))
      expect(predicted, `n=${n}`).toEqual(tokens)
      for (const w of windows) expect(w.ids.length).toBeLessThanOrEqual(17)
      if (n > 16) expect(windows.at(-1)!.ids.length).toBe(17)
    }
  })

  it('sums each line’s log-probabilities after the BOS, as modelLogits gives them, and reports bits per byte and perplexities', async () => {
    const dir = await smallGpt2(64, { bos: EOT, eos: EOT })
    const lines = demoText('hu').heldout.slice(0, 5).map((l) => l.slice(0, 80))
    const r = await scoreTextFile(dir, join(dir, 'tokenizer.json'), await writeLines(lines), { lang: 'hu' })
    const tok = await Tokenizer.fromFile(join(dir, 'tokenizer.json'))
    let nll = 0
    let tokens = 0
    for (const line of lines) {
      const ids = [EOT, ...tok.encode(line)]
      nll += await handNll(dir, ids)
      tokens += ids.length - 1
    }
    expect(r).toMatchObject({ documents: 5, lines: 5, tokens, bos: '<|endoftext|>', prefix: 'bos', unscoredFirstTokens: 0 })
    expect(Math.abs(r.nll - nll) / nll).toBeLessThan(1e-5)
    const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0)
    const words = lines.reduce((n, l) => n + wordCounter('hu').count(l), 0)
    expect(r.bytes).toBe(bytes)
    expect(r.words).toBe(words)
    expect(r.bitsPerByte).toBeCloseTo(r.nll / Math.LN2 / bytes, 12)
    expect(r.bytePerplexity).toBeCloseTo(Math.exp(r.nll / bytes), 10)
    expect(r.bytePerplexity).toBeCloseTo(2 ** r.bitsPerByte, 10)
    expect(r.wordPerplexity!).toBeCloseTo(Math.exp(r.nll / words), 6)
    expect(r.nllPerToken).toBeCloseTo(r.nll / r.tokens, 12)
  })

  it('predicts the first token from the EOS where the model has no BOS (it used to be left unscored)', async () => {
    const dir = await smallGpt2(64, { eos: EOT })
    const lines = demoText('en').heldout.slice(0, 4).map((l) => l.slice(0, 80))
    const r = await scoreTextFile(dir, join(dir, 'tokenizer.json'), await writeLines(lines))
    const tok = await Tokenizer.fromFile(join(dir, 'tokenizer.json'))
    let nll = 0
    for (const line of lines) nll += await handNll(dir, [EOT, ...tok.encode(line)])
    expect(r).toMatchObject({ bos: '<|endoftext|>', prefix: 'eos', unscoredFirstTokens: 0 })
    // Every token of every line is scored, the first ones included.
    expect(r.tokens).toBe(lines.reduce((n, l) => n + tok.encode(l).length, 0))
    expect(Math.abs(r.nll - nll) / nll).toBeLessThan(1e-5)
  })

  it('leaves the first token unscored only for a model with neither BOS nor EOS', async () => {
    const dir = await smallGpt2(64, {})
    const lines = demoText('en').heldout.slice(0, 3).map((l) => l.slice(0, 60))
    const r = await scoreTextFile(dir, join(dir, 'tokenizer.json'), await writeLines(lines))
    const tok = await Tokenizer.fromFile(join(dir, 'tokenizer.json'))
    let nll = 0
    for (const line of lines) nll += await handNll(dir, tok.encode(line))
    expect(r).toMatchObject({ bos: null, prefix: null, unscoredFirstTokens: 3 })
    expect(r.tokens).toBe(lines.reduce((n, l) => n + tok.encode(l).length - 1, 0))
    expect(Math.abs(r.nll - nll) / nll).toBeLessThan(1e-5)
  })

  it('scores a document longer than the context in the harness’s windows, each token once', async () => {
    const dir = await smallGpt2(16, { bos: EOT, eos: EOT })
    const line = demoText('hu').train.find((l) => l.length > 300)!
    const r = await scoreTextFile(dir, join(dir, 'tokenizer.json'), await writeLines([line]))
    const tok = await Tokenizer.fromFile(join(dir, 'tokenizer.json'))
    const ids = tok.encode(line)
    expect(r.tokens).toBe(ids.length)
    const windows = rollingRequestWindows(ids, EOT, 16)
    expect(windows.length).toBeGreaterThan(3)
    let nll = 0
    for (const w of windows) nll += await handNll(dir, w.ids, w.skip)
    expect(Math.abs(r.nll - nll) / nll).toBeLessThan(1e-5)
  })

  it('scores documents with a model already loaded (Llama fixture), after the BOS or the EOS, deterministically', async () => {
    const dir = join(FIXTURES, 'llama')
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = await CausalLM.load(tf, await openCheckpoint(dir), { trainable: false })
    // A stand-in tokenizer for the fixture's 96 ids: one id per character.
    const tok = { encode: (s: string) => [...s].map((c) => 3 + ((c.codePointAt(0) as number) % 93)) } as unknown as Tokenizer
    const docs = ['A magyar nyelv az uráli nyelvcsalád tagja.', '', 'Short.', 'x'.repeat(150)]
    for (const prefix of [
      { id: 1, token: '<s>', kind: 'bos' as const },
      { id: 2, token: '</s>', kind: 'eos' as const },
    ]) {
      const r = await scoreDocuments(model, tok, docs, { prefix, lang: 'hu' })
      let nll = 0
      for (const d of docs.filter((x) => x !== '')) for (const w of rollingRequestWindows(tok.encode(d), prefix.id, 64)) nll += await handNll(dir, w.ids, w.skip)
      expect(r.documents).toBe(3)
      expect(r.tokens).toBe(docs.join('').length)
      expect(Math.abs(r.nll - nll) / nll, prefix.kind).toBeLessThan(1e-5)
      const again = await scoreDocuments(model, tok, docs, { prefix, lang: 'hu' })
      expect(again).toEqual(r)
    }
    model.dispose()
  })

  it('counts words as the Corpus step does: the dictionary segmenter for Thai', async () => {
    const dir = await smallGpt2(64, { bos: EOT, eos: EOT })
    const lines = demoText('th').heldout.slice(0, 4).map((l) => l.slice(0, 30))
    const file = await writeLines(lines)
    const th = await scoreTextFile(dir, join(dir, 'tokenizer.json'), file, { lang: 'th' })
    const und = await scoreTextFile(dir, join(dir, 'tokenizer.json'), file)
    expect(wordCounter('th').segmenter).toBe(true)
    expect(th.words).toBe(lines.reduce((n, l) => n + wordCounter('th').count(l), 0))
    const segmenter = new Intl.Segmenter('th', { granularity: 'word' })
    expect(th.words).toBe(lines.reduce((n, l) => n + [...segmenter.segment(l)].filter((s) => s.isWordLike).length, 0))
    // Without the language, Thai text is a few space-separated runs.
    expect(th.words).toBeGreaterThan(2 * und.words)
    expect(th.nll).toBe(und.nll)
    expect(th.wordPerplexity!).toBeCloseTo(Math.exp(th.nll / th.words), 6)
    expect(th.wordPerplexity!).toBeLessThan(und.wordPerplexity!)
  })

  it('refuses an empty text and a tokenizer the model has no rows for', async () => {
    const dir = await smallGpt2(16, { bos: EOT })
    const empty = join(tmp(), 'empty.txt')
    await fs.writeFile(empty, '\n  \n')
    await expect(scoreTextFile(dir, join(dir, 'tokenizer.json'), empty)).rejects.toThrow(`${empty} has no text to score`)
    await expect(scoreTextFile(join(FIXTURES, 'gpt2'), TOKENIZER_FILES.gpt2, await writeLines(['Hello']))).rejects.toThrow(/has 50257 tokens but the model has only 96 embedding rows/)
  })
})
