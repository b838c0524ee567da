/** `vernacular eval …`: held-out bits per byte and multiple-choice accuracy, as lm-evaluation-harness defines them. */
import type { HeldoutScore, MultipleChoiceResult } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, num, stringOption, type Command } from '../args'

/** The lines `eval bpb` and `model score` print for a held-out score. */
export function describeHeldout(s: HeldoutScore): string[] {
  return [
    `bits per byte      ${s.bitsPerByte.toFixed(4)}`,
    `byte perplexity    ${s.bytePerplexity.toFixed(4)}`,
    `word perplexity    ${s.wordPerplexity === null ? '– (no words)' : s.wordPerplexity.toFixed(2)}`,
    `nll                ${s.nll.toFixed(3)} nats`,
    `documents          ${num(s.documents)}`,
    `bytes              ${num(s.bytes)}`,
    `words              ${num(s.words)}`,
    `tokens             ${num(s.tokens)}`,
  ]
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`
const stderr = (x: number | null) => (x === null ? '' : ` ± ${(100 * x).toFixed(1)}`)

function describeChoices(r: MultipleChoiceResult): string {
  return [`acc                ${pct(r.acc)}${stderr(r.accStderr)}`, `acc_norm           ${pct(r.accNorm)}${stderr(r.accNormStderr)}`, `items              ${num(r.n)}`].join('\n')
}

export const evaluationCommands: Command[] = [
  {
    name: 'eval bpb',
    summary: 'Held-out bits per byte, byte and word perplexity of a text, each line a document scored in rolling windows',
    usage: 'vernacular eval bpb --model DIR --tokenizer T.json --text F [--lang CODE] [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, tokenizer: { type: 'string', short: 't' }, text: { type: 'string' }, lang: { type: 'string', short: 'l' } },
    async run({ engine, out, values }) {
      const params = defined({ model: stringOption(values, 'model'), tokenizer: stringOption(values, 'tokenizer'), text: stringOption(values, 'text'), lang: stringOption(values, 'lang') })
      const { job } = await call(this, engine, 'eval.bpb', params)
      const r = await followJob(engine, out, job)
      out.result(r, () => describeHeldout(r).join('\n'))
    },
  },
  {
    name: 'eval mc',
    summary: 'Accuracy on a multiple-choice task (JSONL: context/choices/gold, Belebele rows, or the harness’s query/choices/gold)',
    usage: 'vernacular eval mc --model DIR --tokenizer T.json --task F.jsonl [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, tokenizer: { type: 'string', short: 't' }, task: { type: 'string' } },
    async run({ engine, out, values }) {
      const params = defined({ model: stringOption(values, 'model'), tokenizer: stringOption(values, 'tokenizer'), task: stringOption(values, 'task') })
      const { job } = await call(this, engine, 'eval.mc', params)
      const r = await followJob(engine, out, job)
      out.result(r, () => describeChoices(r))
    },
  },
]
