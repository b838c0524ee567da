/** `vernacular export`: a checkpoint of a run as a Hugging Face model folder with a model card, or as GGUF with an Ollama Modelfile. */
import type { ExportResult } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, num, positionals, requiredOption, stringOption, toNumber, type Command } from '../args'

function describeExport(r: ExportResult): string {
  const width = Math.max(...r.files.map((f) => f.name.length)) + 2
  const total = r.files.reduce((n, f) => n + f.bytes, 0)
  if (r.format === 'gguf') {
    const file = r.files.find((f) => f.name.endsWith('.gguf'))?.name ?? ''
    return [
      `Exported step ${num(r.checkpoint)} of run ${r.run} as GGUF (${r.dtype.toUpperCase()}) to ${r.out}`,
      ...r.files.map((f) => `  ${f.name.padEnd(width)}${num(f.bytes)} bytes`),
      `Run it with llama.cpp: llama-cli -m ${JSON.stringify(`${r.out}/${file}`)} -p "…"`,
      `or with Ollama: cd ${JSON.stringify(r.out)} && ollama create NAME -f Modelfile && ollama run NAME`,
    ].join('\n')
  }
  return [
    `Exported step ${num(r.checkpoint)} of run ${r.run} as a Hugging Face folder (${r.dtype.toUpperCase()}) to ${r.out}`,
    ...r.files.map((f) => `  ${f.name.padEnd(width)}${num(f.bytes)} bytes`),
    `  ${num(total)} bytes in all; the model card ${r.evaluated ? 'has the evaluation against the base' : 'says it was not evaluated'}.`,
    `Load it with transformers: AutoModelForCausalLM.from_pretrained(${JSON.stringify(r.out)})`,
  ].join('\n')
}

export const exportCommands: Command[] = [
  {
    name: 'export',
    summary: 'Write a checkpoint of a run as a Hugging Face model folder with a model card, or as GGUF for llama.cpp and Ollama',
    usage: 'vernacular export PROJECT --run NAME --checkpoint STEP --out DIR [--format hf|gguf] [--dtype f32|f16|bf16 (hf) | f32|f16|q8_0 (gguf)] [--force] [--json]',
    args: 'PROJECT',
    names: { dir: 'PROJECT' },
    options: {
      ...JSON_OPT,
      run: { type: 'string', short: 'r' },
      checkpoint: { type: 'string' },
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
      dtype: { type: 'string' },
      force: { type: 'boolean' },
    },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const run = requiredOption(this, values, 'run')
      const checkpoint = toNumber(this, '--checkpoint', requiredOption(this, values, 'checkpoint'))
      const folder = requiredOption(this, values, 'out')
      const { job } = await call(
        this,
        engine,
        'export.checkpoint',
        defined({ dir, run, checkpoint, out: folder, format: stringOption(values, 'format'), dtype: stringOption(values, 'dtype'), force: values.force === true }),
      )
      const r = await followJob(engine, out, job)
      out.result({ out: r.out, files: r.files, dtype: r.dtype, format: r.format, checkpoint: r.checkpoint, run: r.run, evaluated: r.evaluated }, () => describeExport(r))
    },
  },
]
