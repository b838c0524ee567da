/** `vernacular train …`: continual pretraining runs of a project. */
import type { RunStatus } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, num, numberOption, positionals, stringOption, type Command, type Values } from '../args'
import { formatDuration } from '../output'

/** The flags that override the manifest's training settings for one run, by setting. */
export const FLAGS = {
  sequenceLength: 'seq-len',
  batchSize: 'batch',
  gradientAccumulation: 'grad-accum',
  steps: 'steps',
  learningRate: 'lr',
  warmupSteps: 'warmup-steps',
  weightDecay: 'weight-decay',
  seed: 'seed',
  checkpointEvery: 'checkpoint-every',
  keepCheckpoints: 'keep',
  evalEvery: 'eval-every',
  embeddingOnlySteps: 'embedding-steps',
  englishShare: 'replay-share',
} as const

export const RUN_OPT = { run: { type: 'string' as const, short: 'r' as const } }

/** The settings flags of a run (`train`, and `handoff` for a new run): parse options, and the API field each names. */
export const SETTINGS_OPTIONS = {
  ...Object.fromEntries(Object.values(FLAGS).map((flag) => [flag, { type: 'string' as const }])),
  'no-document-masking': { type: 'boolean' as const },
  recompute: { type: 'string' as const },
}
export const SETTINGS_NAMES = {
  ...Object.fromEntries(Object.entries(FLAGS).map(([setting, flag]) => [`overrides.${setting}`, `--${flag}`])),
  'overrides.documentMasking': '--no-document-masking',
  'overrides.recompute': '--recompute',
}

export function overrides(cmd: Command, values: Values) {
  const numbers = Object.fromEntries(Object.entries(FLAGS).map(([setting, flag]) => [setting, numberOption(cmd, values, flag)]))
  return defined({ ...numbers, documentMasking: values['no-document-masking'] ? false : undefined, recompute: stringOption(values, 'recompute') })
}

function describeRun(s: RunStatus): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`
  const last = s.last
  return [
    `Run ${s.name}: ${s.state}, step ${num(s.step)} of ${num(s.steps)}${s.failure ? ` (${s.failure})` : ''}`,
    `  tokens     ${num(s.tokensTarget)} target, ${num(s.tokensEnglish)} English`,
    `  replay     ${pct(s.realisedReplayShare)} English (planned ${pct(s.plannedReplayShare)})`,
    `  seen       target text ${s.epochsTarget.toFixed(2)}×, English ${s.epochsEnglish.toFixed(2)}×`,
    last ? `  last step  loss ${last.loss.toFixed(4)} (target ${last.lossTarget?.toFixed(4) ?? '–'}, English ${last.lossEnglish?.toFixed(4) ?? '–'}), lr ${last.lr.toExponential(2)}, ${Math.round(last.tokensPerSecond)} tok/s${last.recompute ? ' (activations recomputed)' : ''}, ${formatDuration(last.elapsedSeconds)} in all` : '',
    s.checkpoints.length ? `  checkpoints\n${s.checkpoints.map((c) => `    step ${c.step}${c.pinned ? ' (pinned)' : ''}  ${c.dir}`).join('\n')}` : '  no checkpoint yet',
  ]
    .filter(Boolean)
    .join('\n')
}

/** `train pause` and `train cancel`: the same request but for what the worker does next. */
function stopCommand(request: 'pause' | 'cancel', summary: string, said: (s: RunStatus) => string): Command {
  return {
    name: `train ${request}`,
    summary,
    usage: `vernacular train ${request} PROJECT --run NAME [--json]`,
    args: 'PROJECT',
    names: { dir: 'PROJECT' },
    options: { ...JSON_OPT, ...RUN_OPT },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const s = await call(this, engine, request === 'pause' ? 'train.pause' : 'train.cancel', { dir, run: stringOption(values, 'run') })
      out.result(s, () => said(s))
    },
  }
}

export const trainingCommands: Command[] = [
  {
    name: 'train',
    summary: 'Continue pretraining the resized model on the target language with English replay (Ctrl-C pauses)',
    usage:
      'vernacular train PROJECT [--run NAME] [--seq-len N] [--batch N] [--grad-accum N] [--steps N] [--lr X] [--warmup-steps N] [--weight-decay X] [--seed N] [--checkpoint-every N] [--keep N] [--eval-every N] [--embedding-steps N] [--no-document-masking] [--recompute auto|on|off] [--replay-share X] [--resume] [--json]',
    args: 'PROJECT',
    names: { dir: 'PROJECT', run: '--run', ...SETTINGS_NAMES },
    options: { ...JSON_OPT, ...RUN_OPT, ...SETTINGS_OPTIONS, resume: { type: 'boolean' } },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const { job } = await call(this, engine, 'train.start', defined({ dir, run: stringOption(values, 'run'), overrides: overrides(this, values), resume: values.resume === true }))
      const status = await followJob(engine, out, job)
      out.result(status, () => describeRun(status))
    },
  },
  stopCommand('pause', 'Ask a run, wherever it trains, to write a checkpoint and pause', (s) => `Asked run ${s.name} to pause; it writes a checkpoint after its current step.`),
  stopCommand('cancel', 'Ask a run to write a checkpoint and stop for good (or cancel a paused run)', (s) =>
    s.state === 'cancelled' ? `Run ${s.name} is cancelled.` : `Asked run ${s.name} to stop; it writes a checkpoint after its current step.`,
  ),
  {
    name: 'train status',
    summary: "A run's state, progress, replay share, passes over the text and checkpoints",
    usage: 'vernacular train status PROJECT [--run NAME] [--json]',
    args: 'PROJECT',
    names: { dir: 'PROJECT' },
    options: { ...JSON_OPT, ...RUN_OPT },
    async run({ engine, out, positionals: given, values }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const s = await call(this, engine, 'train.status', defined({ dir, run: stringOption(values, 'run') }))
      const { settings: _settings, last: _last, dir: _dir, failure: _failure, ...fields } = s
      out.result({ ...fields, failure: s.failure }, () => describeRun(s))
    },
  },
]
