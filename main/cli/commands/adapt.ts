/** `vernacular adapt`: every step a project still needs, in the order the data flows. */
import type { Engine } from '../../engine/api/engine'
import { EngineError } from '../../engine/common/errors'
import type { CheckpointEvaluation, Evaluation } from '../../engine/contract'
import { JSON_OPT, call, followJob, positionals, stringOption, usage, type Command } from '../args'
import { evaluationTable, limitNote } from './evaluation'
import type { Output } from '../output'

export const ADAPT_STEPS = ['corpus', 'vocab', 'resize', 'train', 'eval'] as const
type AdaptStep = (typeof ADAPT_STEPS)[number]

interface AdaptResult {
  /** The extended tokenizer.json (null when the plan adds no tokens). */
  tokenizer: string | null
  /** The resized model folder. */
  model: string | null
  run: string | null
  /** The run's last checkpoint folder. */
  checkpoint: string | null
  /** What each step did. */
  steps: { step: AdaptStep; done: 'ran' | 'skipped' }[]
  /** The base model (with the base tokenizer) and the last checkpoint, evaluated (`eval run`'s E). */
  evaluation?: { base: Evaluation; adapted: CheckpointEvaluation; limit: number | null }
  /** The project's target language (for the table). */
  language: string
}

async function adapt(cmd: Command, engine: Engine, out: Output, dir: string, through: AdaptStep): Promise<AdaptResult> {
  const upTo = ADAPT_STEPS.indexOf(through)
  const result: AdaptResult = { tokenizer: null, model: null, run: null, checkpoint: null, steps: [], language: '' }
  const note = (step: AdaptStep, done: AdaptResult['steps'][number]['done']) => {
    result.steps.push({ step, done })
    if (done === 'ran') out.info(`✓ ${step}`)
  }
  const { manifest } = await call(cmd, engine, 'project.open', { dir })
  result.language = manifest.language

  // Corpora: a template project ingests its template's text; any other needs its text added first.
  const stats = await call(cmd, engine, 'corpus.stats', { dir })
  let ingested = false
  for (const role of ['target', 'english'] as const) {
    if (stats.roles.some((r) => r.role === role)) continue
    if (typeof manifest.template !== 'string') {
      if (role === 'english' && manifest.replay.englishShare === 0) continue
      throw new EngineError('bad-input', `The project has no ${role === 'target' ? 'target-language' : 'English'} text.`, { hint: `Add it with \`vernacular corpus add ${dir} --role ${role} PATH\`, then run adapt again.` })
    }
    out.info(`Ingesting the template's ${role} text…`)
    await followJob(engine, out, (await call(cmd, engine, 'corpus.addTemplate', { dir, role })).job)
    ingested = true
  }
  note('corpus', ingested ? 'ran' : 'skipped')
  if (upTo < 1) return result

  // Vocabulary: the extended tokenizer of the plan.
  const plan = manifest.vocabulary
  if (plan.count > 0) {
    const vocab = await call(cmd, engine, 'vocab.status', { dir })
    const made = vocab.outputs.find((o) => o.mode === plan.mode && o.count === plan.count)
    if (made) {
      result.tokenizer = made.tokenizerFile
      note('vocab', 'skipped')
    } else {
      out.info(`Extending the tokenizer (${plan.mode} ${plan.count})…`)
      result.tokenizer = (await followJob(engine, out, (await call(cmd, engine, 'vocab.extend', { dir, mode: plan.mode, count: plan.count })).job)).tokenizerFile
      note('vocab', 'ran')
    }
  } else note('vocab', 'skipped')
  if (upTo < 2) return result

  // The base model resized for it (mean initialisation).
  if (plan.count > 0) {
    const status = await call(cmd, engine, 'baseModel.status', { dir })
    const resized = status.resized.find((r) => r.mode === plan.mode && r.count === plan.count && r.init === 'mean')
    if (resized) {
      result.model = resized.out
      note('resize', 'skipped')
    } else {
      out.info('Resizing the base model…')
      result.model = (await followJob(engine, out, (await call(cmd, engine, 'baseModel.resize', { dir, mode: plan.mode, count: plan.count, init: 'mean' })).job)).out
      note('resize', 'ran')
    }
  } else {
    result.model = (await call(cmd, engine, 'baseModel.status', { dir })).path
    note('resize', 'skipped')
  }
  if (upTo < 3) return result

  // Training run `main`: started, resumed, or already done.
  const runs = await call(cmd, engine, 'train.runs', { dir })
  const main = runs.find((r) => r.name === 'main')
  result.run = 'main'
  if (main?.state === 'done') {
    note('train', 'skipped')
  } else if (main?.state === 'cancelled') {
    throw new EngineError('invalid-request', 'Run "main" was cancelled.', { hint: 'Train another run with `vernacular train --run NAME`.' })
  } else {
    const resume = main !== undefined && main.state !== 'planned'
    out.info(resume ? 'Resuming training run main…' : 'Training run main…')
    await followJob(engine, out, (await call(cmd, engine, 'train.start', { dir, run: 'main', resume })).job)
    note('train', 'ran')
  }
  const trained = await call(cmd, engine, 'train.status', { dir, run: 'main' })
  const last = [...trained.checkpoints].sort((a, b) => b.step - a.step)[0]
  result.checkpoint = last?.dir ?? null
  if (upTo < 4) return result

  // Evaluation of the base model and the last checkpoint (cached: a second adapt reads it back).
  out.info('Evaluating the base model and the last checkpoint…')
  const evaluated = await followJob(engine, out, (await call(cmd, engine, 'eval.run', { dir, run: 'main', checkpoint: 'last' })).job)
  const adapted = evaluated.checkpoints.at(-1)
  if (adapted) result.evaluation = { base: evaluated.base, adapted, limit: evaluated.limit }
  note('eval', 'ran')
  return result
}

export const adaptCommands: Command[] = [
  {
    name: 'adapt',
    summary: 'Run every step a project still needs: ingest, extend the vocabulary, resize, train, evaluate',
    usage: 'vernacular adapt PROJECT [--through corpus|vocab|resize|train|eval] [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT, through: { type: 'string' } },
    async run({ engine, out, positionals: given, values }) {
      const dir = String(positionals(this, given, ['PROJECT'])[0])
      const through = stringOption(values, 'through') ?? 'eval'
      if (!(ADAPT_STEPS as readonly string[]).includes(through)) throw usage(this, `--through must be ${ADAPT_STEPS.join(', ')}, not "${through}".`)
      const r = await adapt(this, engine, out, dir, through as AdaptStep)
      out.result(r, () =>
        [
          ...r.steps.map((s) => `${s.step.padEnd(7)} ${s.done}`),
          r.tokenizer ? `tokenizer   ${r.tokenizer}` : '',
          r.model ? `model       ${r.model}` : '',
          r.checkpoint ? `checkpoint  ${r.checkpoint}` : '',
          r.checkpoint ? `Run ${r.run}: \`vernacular train status ${dir}\`` : '',
          r.evaluation ? `\n${evaluationTable([{ run: r.run ?? 'main', base: r.evaluation.base, checkpoints: [r.evaluation.adapted] }], r.language)}` : '',
          ...(r.evaluation ? limitNote(r.evaluation.limit) : []),
          r.evaluation ? `Compare every checkpoint: \`vernacular eval compare ${dir}\`` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      )
    },
  },
]
