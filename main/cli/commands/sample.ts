/** `vernacular sample`: a model's continuation of a prompt, greedy or top-p with a seed. */
import type { SampleResult } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, numberOption, stringOption, type Command } from '../args'

const FINISHED: Record<SampleResult['finishReason'], string> = {
  eos: 'ended by the end-of-sequence token',
  'max-tokens': 'stopped at --max-tokens',
  'max-positions': "stopped at the model's context length",
}

const indent = (text: string) => text.replace(/^/gm, '  ')

export function describeSample(r: SampleResult): string {
  const decoding = r.topP === null ? 'greedy' : `top-p ${r.topP}, temperature ${r.temperature}, seed ${r.seed}`
  return [
    'Prompt:',
    indent(r.prompt),
    'Continuation:',
    indent(r.text),
    '',
    `${r.tokens.length} new tokens after ${r.promptTokens.length} prompt tokens, ${decoding}; ${FINISHED[r.finishReason]}. ${r.tokensPerSecond.toFixed(1)} tokens/s.`,
  ].join('\n')
}

export const sampleCommands: Command[] = [
  {
    name: 'sample',
    summary: 'Continue a prompt with a model: greedy, or top-p sampling with a seed',
    usage: 'vernacular sample --model DIR --tokenizer T.json --prompt TEXT [--max-tokens N] [--top-p P] [--temperature T] [--seed S] [--json]',
    options: {
      ...JSON_OPT,
      model: { type: 'string', short: 'm' },
      tokenizer: { type: 'string', short: 't' },
      prompt: { type: 'string', short: 'p' },
      'max-tokens': { type: 'string', short: 'n' },
      'top-p': { type: 'string' },
      temperature: { type: 'string' },
      seed: { type: 'string' },
    },
    async run({ engine, out, values }) {
      const params = defined({
        model: stringOption(values, 'model'),
        tokenizer: stringOption(values, 'tokenizer'),
        prompt: stringOption(values, 'prompt'),
        maxTokens: numberOption(this, values, 'max-tokens'),
        topP: numberOption(this, values, 'top-p'),
        temperature: numberOption(this, values, 'temperature'),
        seed: numberOption(this, values, 'seed'),
      })
      const { job } = await call(this, engine, 'model.sample', params)
      const r = await followJob(engine, out, job)
      out.result(r, () => describeSample(r))
    },
  },
]
