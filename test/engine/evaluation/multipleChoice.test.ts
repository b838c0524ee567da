import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import type { Tensor2D } from '@tensorflow/tfjs-core'
import { selectBackend } from '../../../main/engine/backend/select'
import { meanStderr } from '../../../main/engine/evaluation/metrics'
import { choiceLoglikelihoods, multipleChoiceMetrics, scoreMultipleChoice, scoreTaskFile } from '../../../main/engine/evaluation/multipleChoice'
import { encodePair } from '../../../main/engine/evaluation/requests'
import { type ChoiceItem, parseTask } from '../../../main/engine/evaluation/tasks'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { CausalLM } from '../../../main/engine/model/model'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { useTmp } from '../../helpers/tmp'
import { TOKENIZER_FILES } from '../tokenizer/fixtures'

const tmp = useTmp()
const EOT = 50256
const PREFIX = { id: EOT, token: '<|endoftext|>', kind: 'bos' as const }

async function smallGpt2(positions: number): Promise<string> {
  const dir = tmp()
  const config = { model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: positions, bos_token_id: EOT, eos_token_id: EOT }
  await writeInitialisedModel(dir, parseModelConfig(config, 'config.json'), { seed: 3, std: 0.6 })
  await fs.copyFile(TOKENIZER_FILES.gpt2, join(dir, 'tokenizer.json'))
  return dir
}

/** log softmax(row)[target], in float64. */
function logProb(row: ArrayLike<number>, target: number): number {
  let max = -Infinity
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i] as number)
  let sum = 0
  for (let i = 0; i < row.length; i++) sum += Math.exp((row[i] as number) - max)
  return (row[target] as number) - max - Math.log(sum)
}

/** A handmade task: short contexts in three languages, choices of different lengths, one empty context. */
const TASK = [
  { context: 'The capital of Hungary is', choices: [' Budapest', ' Bangkok', ' a large city on the Danube'], gold: 0 },
  { context: 'Magyarország fővárosa ', choices: ['Budapest.', 'Bangkok.', 'egy nagy város a Duna partján.'], gold: 0 },
  { context: 'ประเทศไทยมีเมืองหลวงคือ', choices: ['กรุงเทพมหานคร', 'บูดาเปสต์', 'ลอนดอน'], gold: 0 },
  { context: 'Two plus two is', choices: [' four', ' five', ' twenty-two', ' a number'], gold: 0 },
  { context: 'She opened the door and', choices: [' walked in.', ' the.', ' sky blue green'], gold: 0 },
  { context: '', choices: ['Hello world', 'xq zzv'], gold: 0 },
  { context: 'A kutya ugat, a macska', choices: [' nyávog.', ' repül.', ' úszik a tengerben.'], gold: 0 },
  { context: 'Python is a programming', choices: [' language', ' snake', ' languages and tools'], gold: 1 },
]

/** The task's choices' log-likelihoods from the model's logits, each pair split as the harness splits it, each scored alone. */
async function expectedLoglikelihoods(model: CausalLM, tok: Tokenizer, items: readonly ChoiceItem[]): Promise<number[][]> {
  const { tf } = model
  const out: number[][] = []
  for (const item of items) {
    const lls: number[] = []
    for (const choice of item.choices) {
      const { context, continuation } = encodePair(tok, item.context, item.delimiter + choice, EOT)
      const ids = [...context, ...continuation].slice(-(model.maxSequence + 1))
      const start = ids.length - continuation.length
      const input = tf.tensor2d([ids.slice(0, -1)], undefined, 'int32') as Tensor2D
      const logits = model.logits(input)
      const data = (await logits.data()) as Float32Array
      tf.dispose([input, logits])
      const V = model.config.vocabSize
      let ll = 0
      for (let p = start; p < ids.length; p++) ll += logProb(data.subarray((p - 1) * V, p * V), ids[p] as number)
      lls.push(ll)
    }
    out.push(lls)
  }
  return out
}

describe('multiple choice', () => {
  it('defines acc, acc_norm (by the choice’s length in characters) and their standard errors as the harness does', () => {
    const items = parseTask(
      [
        '{"context": "c", "choices": ["a", "bbbbbb"], "gold": 1}',
        '{"context": "c", "choices": ["a", "bbbbbb"], "gold": 0}',
        '{"context": "c", "choices": ["𝔞", "ab"], "gold": 1}',
        '{"context": "c", "choices": ["x", "y", "z"], "gold": 2}',
      ].join('\n'),
      'x.jsonl',
    ).items
    // −10/1 < −12/6: the longer choice wins only once normalised; "𝔞" is one character (two UTF-16
    // units), so −3/1 < −5/2; ties go to the first.
    const lls = [
      [-10, -12],
      [-10, -12],
      [-3, -5],
      [-1, -1, -1],
    ]
    const r = multipleChoiceMetrics(items, lls)
    expect(r).toEqual({ n: 4, acc: 0.25, accNorm: 0.5, accStderr: Math.sqrt((0.25 * 0.75) / 3), accNormStderr: Math.sqrt(0.25 / 3) })
    expect(multipleChoiceMetrics(items.slice(0, 1), lls.slice(0, 1))).toEqual({ n: 1, acc: 0, accNorm: 1, accStderr: null, accNormStderr: null })
    // mean_stderr: sample standard deviation over √n.
    expect(meanStderr([1, 0, 0, 1, 1])).toBeCloseTo(Math.sqrt((0.6 * 0.4 * 5) / 4) / Math.sqrt(5), 14)
    expect(meanStderr([1, 0, 0, 1, 1])).toBeCloseTo(Math.sqrt((0.6 * 0.4) / 4), 14)
  })

  it('scores each choice by its log-likelihood given the context, as the logits give it, many choices per forward pass', { timeout: 90_000 }, async () => {
    const dir = await smallGpt2(64)
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = await CausalLM.load(tf, await openCheckpoint(dir), { trainable: false })
    const tok = await Tokenizer.fromFile(join(dir, 'tokenizer.json'))
    const items = parseTask(TASK.map((t) => JSON.stringify(t)).join('\n'), 'task.jsonl').items
    const want = await expectedLoglikelihoods(model, tok, items)
    const passes = vi.spyOn(model, 'nextTokenNll')
    const got = await choiceLoglikelihoods(model, tok, items, { prefix: PREFIX })
    const choices = items.reduce((n, i) => n + i.choices.length, 0)
    expect(passes.mock.calls.length).toBeLessThan(choices / 4)
    passes.mockRestore()
    got.forEach((lls, i) => lls.forEach((ll, k) => expect(Math.abs(ll - want[i]![k]!), `item ${i} choice ${k}`).toBeLessThan(1e-4 * Math.abs(want[i]![k]!))))
    // The metrics from those log-likelihoods, computed here.
    const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs))
    const acc = items.map((it, i): number => (argmax(want[i]!) === it.gold ? 1 : 0))
    const accNorm = items.map((it, i): number => (argmax(want[i]!.map((ll, k) => ll / [...it.choices[k]!].length)) === it.gold ? 1 : 0))
    const p = acc.reduce((a, b) => a + b, 0) / acc.length
    const pn = accNorm.reduce((a, b) => a + b, 0) / accNorm.length
    const r = await scoreMultipleChoice(model, tok, items, { prefix: PREFIX })
    expect(r.n).toBe(8)
    expect(r.acc).toBeCloseTo(p, 12)
    expect(r.accNorm).toBeCloseTo(pn, 12)
    expect(r.accStderr!).toBeCloseTo(Math.sqrt((p * (1 - p)) / 7), 12)
    expect(r.accNormStderr!).toBeCloseTo(Math.sqrt((pn * (1 - pn)) / 7), 12)
    model.dispose()
  })

  it('splits a pair where the context’s own tokens end, its trailing space moved to the continuation; an empty context is the prefix token', async () => {
    const tok = await Tokenizer.fromFile(TOKENIZER_FILES.gpt2)
    const spaced = encodePair(tok, 'The capital of Hungary is ', 'Budapest', EOT)
    expect(spaced).toEqual({ context: tok.encode('The capital of Hungary is'), continuation: tok.encode(' Budapest') })
    expect(encodePair(tok, 'The capital of Hungary is', ' Budapest', EOT)).toEqual(spaced)
    expect(encodePair(tok, '', 'Hello', EOT)).toEqual({ context: [EOT], continuation: tok.encode('Hello') })
    // Joined, "ab" + "c" may merge across the boundary; the continuation is what is left after the context's own ids.
    const { context, continuation } = encodePair(tok, 'Magyarorsz', 'ág', EOT)
    expect([...context, ...continuation]).toEqual(tok.encode('Magyarország'))
    expect(() => encodePair(tok, '', 'x', null)).toThrow(/empty context needs a BOS or EOS/)
  })

  it('cuts a long context from the left, so the model reads its context length', async () => {
    const dir = await smallGpt2(16)
    const { tf } = await selectBackend({ requested: 'wasm' })
    const model = await CausalLM.load(tf, await openCheckpoint(dir), { trainable: false })
    const tok = await Tokenizer.fromFile(join(dir, 'tokenizer.json'))
    const items = parseTask(
      JSON.stringify({ context: 'This is a rather long context that has many more tokens than the tiny model can read at once, so', choices: [' it is cut', ' from the left side'], gold: 0 }),
      'long.jsonl',
    ).items
    const want = await expectedLoglikelihoods(model, tok, items)
    const got = await choiceLoglikelihoods(model, tok, items, { prefix: PREFIX })
    got[0]!.forEach((ll, k) => expect(Math.abs(ll - want[0]![k]!)).toBeLessThan(1e-4 * Math.abs(want[0]![k]!)))
    const tooLong = parseTask(JSON.stringify({ context: 'a', choices: [' b', ' one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen'], gold: 0 }), 'long.jsonl').items
    await expect(choiceLoglikelihoods(model, tok, tooLong, { prefix: PREFIX, source: 'long.jsonl' })).rejects.toThrow(/long\.jsonl, line 1: choice 1 is \d+ tokens, longer than the model's context \(16\)/)
    model.dispose()
  })

  it('scores a task file from a model folder; a bad line is reported before the model loads', async () => {
    const dir = await smallGpt2(64)
    const file = join(tmp(), 'task.jsonl')
    await fs.writeFile(file, TASK.map((t) => JSON.stringify(t)).join('\n') + '\n')
    const r = await scoreTaskFile(dir, join(dir, 'tokenizer.json'), file)
    expect(r.n).toBe(8)
    expect(Object.keys(r)).toEqual(['n', 'acc', 'accNorm', 'accStderr', 'accNormStderr'])
    // The same run twice gives the same numbers.
    expect(await scoreTaskFile(dir, join(dir, 'tokenizer.json'), file)).toEqual(r)
    await fs.appendFile(file, '{"context": "x", "choices": ["a", "b"], "gold": 2}\n')
    await expect(scoreTaskFile(join(tmp(), 'no-model'), 'no-tokenizer.json', file)).rejects.toThrow(`${file}, line 9: "gold" 2 is out of range`)
  })
})
