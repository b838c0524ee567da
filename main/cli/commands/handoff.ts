/** `vernacular handoff` and `vernacular runs import`: a run trained on a cluster by PyTorch FSDP or LLaMA-Factory, and its checkpoints brought back. */
import type { HandoffResult, RunsImportResult } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, num, positionals, requiredOption, stringOption, type Command } from '../args'
import { RUN_OPT, SETTINGS_NAMES, SETTINGS_OPTIONS, overrides } from './training'

function describeHandoff(r: HandoffResult): string {
  const total = r.files.reduce((n, f) => n + f.bytes, 0)
  const shown = r.files.filter((f) => !f.name.includes('/') || f.name.startsWith('data/'))
  const width = Math.max(...shown.map((f) => f.name.length)) + 2
  return [
    `Wrote run ${r.run}${r.created ? ' (planned now, with the project\'s settings)' : ''} for ${r.target === 'fsdp' ? 'PyTorch FSDP' : 'LLaMA-Factory'} to ${r.out}`,
    ...shown.map((f) => `  ${f.name.padEnd(width)}${num(f.bytes)} bytes`),
    `  model/ and ${num(r.files.length)} files in all, ${num(total)} bytes; ${num(r.tokensPerStep)} tokens per optimizer step.`,
    `On the cluster, in that folder: ${r.command}   (README.md has N GPUs, several nodes and Slurm)`,
    `Then bring the checkpoints back: ${r.importCommand}`,
  ].join('\n')
}

function describeImport(r: RunsImportResult): string {
  return [
    `Imported ${r.checkpoints.length} checkpoint${r.checkpoints.length === 1 ? '' : 's'} from ${r.from} as run ${r.run}${r.metrics ? ` (with ${num(r.metrics)} metrics lines)` : ''}:`,
    ...r.checkpoints.map((c) => `  step ${num(c.step)}  ${c.from}`),
    ...r.skipped.map((s) => `  skipped ${s.folder}: ${s.reason}`),
    `Evaluate it with: vernacular eval run PROJECT --run ${r.run}`,
  ].join('\n')
}

export const handoffCommands: Command[] = [
  {
    name: 'handoff',
    summary: 'Write a run as a bundle for a distributed trainer (PyTorch FSDP with torchrun, or LLaMA-Factory): model, token files, launch scripts',
    usage:
      'vernacular handoff PROJECT --run NAME --out DIR [--target fsdp|llamafactory] [--force] [--json]\n  a new run takes the settings flags of `vernacular train`: [--seq-len N] [--batch N] [--grad-accum N] [--steps N] [--lr X] [--warmup-steps N] [--weight-decay X] [--seed N] [--checkpoint-every N] [--embedding-steps N] [--no-document-masking] [--replay-share X] …',
    args: 'PROJECT',
    names: { dir: 'PROJECT', out: '--out', target: '--target', run: '--run', ...SETTINGS_NAMES },
    options: { ...JSON_OPT, ...RUN_OPT, out: { type: 'string', short: 'o' }, target: { type: 'string' }, force: { type: 'boolean' }, ...SETTINGS_OPTIONS },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const { job } = await call(
        this,
        engine,
        'handoff.write',
        defined({ dir, run: requiredOption(this, values, 'run'), out: requiredOption(this, values, 'out'), target: stringOption(values, 'target'), overrides: overrides(this, values), force: values.force === true }),
      )
      const r = await followJob(engine, out, job)
      out.result(r, () => describeHandoff(r))
    },
  },
  {
    name: 'runs import',
    summary: 'Register the checkpoints of a run trained elsewhere (step-<n>, checkpoint-<n>, global_step<n> folders) as a run of the project',
    usage: 'vernacular runs import PROJECT DIR --run NAME [--json]',
    args: 'PROJECT DIR',
    names: { dir: 'PROJECT', from: 'DIR', run: '--run' },
    options: { ...JSON_OPT, run: { type: 'string', short: 'r' } },
    async run({ engine, out, positionals: given, values }) {
      const [dir, from] = positionals(this, given, ['PROJECT', 'DIR'])
      const { job } = await call(this, engine, 'runs.import', { dir, from, run: requiredOption(this, values, 'run') })
      const r = await followJob(engine, out, job)
      out.result(r, () => describeImport(r))
    },
  },
]
