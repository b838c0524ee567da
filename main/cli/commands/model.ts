/** `vernacular model …`: Hugging Face model folders, scores, memory, embedding surgery, a project's base model. */
import type { BaseModelStatus, HubDownloadResult, HubModelInfo, MemoryEstimateResult, ModelInfo, ResizeSummary } from '../../engine/contract'
import { JSON_OPT, call, defined, followJob, numberList, numberOption, positionals, stringOption, type Command } from '../args'
import { formatBytes, formatDuration } from '../output'
import { describeHeldout } from './evaluation'

function formatCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n)
}

function describeModel(m: ModelInfo): string {
  return [
    `${m.architecture} (${m.modelType}), ${formatCount(m.parameters)} parameters, stored as ${m.dtype} (${formatBytes(m.weightBytes)})`,
    `vocabulary         ${m.vocabulary}`,
    `layers             ${m.layers}`,
    `hidden size        ${m.dims.hidden} (MLP ${m.dims.intermediate})`,
    `attention heads    ${m.dims.heads}${m.dims.kvHeads !== m.dims.heads ? ` (${m.dims.kvHeads} key/value heads)` : ''}, ${m.dims.headDim} wide`,
    `context            ${m.maxPositions} positions`,
    `output head        ${m.tied ? 'tied to the input embeddings' : 'its own matrix'}`,
    m.tokenizer ? `tokenizer          ${m.tokenizer.family}, ${m.tokenizer.vocabSize} ids` : `tokenizer          ${m.tokenizerProblem ? `unusable: ${m.tokenizerProblem}` : 'none in the folder'}`,
  ].join('\n')
}

function describeEstimate(e: MemoryEstimateResult): string {
  return [
    `weights            ${formatBytes(e.weights)}`,
    `gradients          ${formatBytes(e.gradients)}`,
    `optimiser state    ${formatBytes(e.optimizer)}`,
    `activations        ${formatBytes(e.activations)}`,
    `total              ${formatBytes(e.total)}`,
  ].join('\n')
}

function describeResize(r: ResizeSummary): string {
  return [
    `Resized (${r.mode} ${r.count}, ${r.init} initialisation): ${r.rowsBefore} → ${r.rowsAfter} embedding rows; ${r.appended} appended, ${r.overwritten} overwritten${r.padding ? `, ${r.padding.to - r.padding.from} padding rows` : ''}.`,
    `Changed: ${r.matrices.join(', ')}; everything else is copied byte for byte.`,
    `Wrote ${r.out} in ${formatDuration(r.seconds)}.`,
  ].join('\n')
}

function describeBaseModel(s: BaseModelStatus): string {
  if (!s.path) return 'No base model yet; set one with `vernacular model set-base PROJECT DIR`.'
  if (!s.info) return `Base model ${s.path} cannot be used: ${s.problem ?? 'unknown problem'}`
  const tokenizer = { same: "the same as the project's base tokenizer", different: "DIFFERENT from the project's base tokenizer", 'model-has-none': 'missing from the model folder', 'project-has-none': "not yet the project's base tokenizer" }
  return [
    describeModel(s.info),
    `its tokenizer is   ${s.tokenizer ? tokenizer[s.tokenizer] : '–'}`,
    '',
    `Training at batch ${s.training.batch} × ${Math.min(s.training.seqLen, s.info.maxPositions)} tokens${s.training.seqLen > s.info.maxPositions ? ` (the project's ${s.training.seqLen} cut to the model's context)` : ''} with AdamW needs about ${s.estimate ? formatBytes(s.estimate.total) : '?'}; ${s.device.name} has ${s.device.memoryBytes === null ? 'unknown memory' : formatBytes(s.device.memoryBytes)}${s.fits === null ? '.' : s.fits ? ': it fits.' : ': it does NOT fit.'}`,
    s.resized.length ? `\nResized models:\n${s.resized.map((r) => `  ${r.mode} ${r.count} ${r.init}: ${r.rowsAfter} rows, ${r.out}`).join('\n')}` : '',
  ].join('\n')
}

function describeHubInfo(h: HubModelInfo): string {
  return [
    `${h.repo} at ${h.revision} (commit ${h.commit})${h.gated ? ', gated' : ''}: ${h.files.length} files, ${formatBytes(h.totalBytes)}${h.cached ? ', all in the cache already' : ''}`,
    ...h.files.map((f) => `  ${f.path.padEnd(40)} ${formatBytes(f.bytes)}`),
    h.model ? `${h.model.architecture} (${h.model.modelType}), ${formatCount(h.model.parameters)} parameters, ${h.model.layers} layers, vocabulary ${h.model.vocabulary}, stored as ${h.model.dtype}` : `Cannot be trained here: ${h.problem ?? 'unknown problem'}`,
    h.estimate
      ? `Training at batch ${h.training.batch} × ${h.training.seqLen} tokens with AdamW needs about ${formatBytes(h.estimate.total)}${h.recomputed ? ` (${formatBytes(h.recomputed.total)} recomputing activations)` : ''}; ${h.device.name} has ${h.device.memoryBytes === null ? 'unknown memory' : formatBytes(h.device.memoryBytes)}${h.fits === null ? '.' : h.fits ? ': it fits.' : h.fitsRecomputed ? ': it fits only with recompute on.' : ': it does NOT fit.'}`
      : '',
  ]
    .filter(Boolean)
    .join('\n')
}

function describeDownload(r: HubDownloadResult): string {
  return [
    `Downloaded ${r.repo} at ${r.revision} (commit ${r.commit}): ${r.files.length} files, ${formatBytes(r.totalBytes)} (${formatBytes(r.fetchedBytes)} fetched now${r.resumedBytes ? `, resumed after ${formatBytes(r.resumedBytes)}` : ''}).`,
    ...r.files.map((f) => `  ${f.path.padEnd(40)} ${formatBytes(f.bytes)}`),
    `Model folder: ${r.folder}`,
    r.folder === r.snapshot ? '' : `Cache:        ${r.snapshot}`,
  ]
    .filter(Boolean)
    .join('\n')
}

export const modelCommands: Command[] = [
  {
    name: 'model download',
    summary: 'Download a model from the Hugging Face Hub into the Hugging Face cache (resumes, checks every file)',
    usage: 'vernacular model download REPO [--revision R] [--out DIR] [--json]',
    args: 'REPO',
    options: { ...JSON_OPT, revision: { type: 'string', short: 'r' }, out: { type: 'string', short: 'o' } },
    async run({ engine, out, values, positionals: given }) {
      const [repo] = positionals(this, given, ['REPO'])
      const { job } = await call(this, engine, 'model.download', defined({ repo, revision: stringOption(values, 'revision'), out: stringOption(values, 'out') }))
      const r = await followJob(engine, out, job)
      out.result(r, () => describeDownload(r))
    },
  },
  {
    name: 'model hub-info',
    summary: "A Hub model's files and size, and whether training it fits this machine, before downloading it",
    usage: 'vernacular model hub-info REPO [--revision R] [--project DIR] [--json]',
    args: 'REPO',
    options: { ...JSON_OPT, revision: { type: 'string', short: 'r' }, project: { type: 'string', short: 'p' } },
    async run({ engine, out, values, positionals: given }) {
      const [repo] = positionals(this, given, ['REPO'])
      const h = await call(this, engine, 'model.hubInfo', defined({ repo, revision: stringOption(values, 'revision'), dir: stringOption(values, 'project') }))
      out.result(h, () => describeHubInfo(h))
    },
  },
  {
    name: 'model info',
    summary: 'Describe a Hugging Face model folder: architecture, parameters, vocabulary, layers, dims, dtype',
    usage: 'vernacular model info DIR [--json]',
    args: 'DIR',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [model] = positionals(this, given, ['DIR'])
      const info = await call(this, engine, 'model.info', { model })
      out.result(info, () => describeModel(info))
    },
  },
  {
    name: 'model logits',
    summary: 'The logits a model gives for a sequence of token ids, one row per position',
    usage: 'vernacular model logits --model DIR --ids 1,2,3 [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, ids: { type: 'string' } },
    async run({ engine, out, values }) {
      const text = stringOption(values, 'ids')
      const ids = text === undefined ? undefined : numberList(this, '--ids', text)
      const r = await call(this, engine, 'model.logits', { model: stringOption(values, 'model'), ids })
      out.result(r, () =>
        r.logits
          .map((row, t) => {
            const top = row
              .map((v, i) => [v, i] as const)
              .sort((a, b) => b[0] - a[0])
              .slice(0, 5)
            return `position ${t} (id ${ids?.[t]}): top ${top.map(([v, i]) => `${i} ${v.toFixed(3)}`).join(', ')}`
          })
          .join('\n'),
      )
    },
  },
  {
    name: 'model score',
    summary: 'Bits per byte and perplexities of a text, each line scored on its own (the same as eval bpb)',
    usage: 'vernacular model score --model DIR --tokenizer T.json --text F [--lang CODE] [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, tokenizer: { type: 'string', short: 't' }, text: { type: 'string' }, lang: { type: 'string', short: 'l' } },
    async run({ engine, out, values }) {
      const params = defined({ model: stringOption(values, 'model'), tokenizer: stringOption(values, 'tokenizer'), text: stringOption(values, 'text'), lang: stringOption(values, 'lang') })
      const { job } = await call(this, engine, 'model.score', params)
      const r = await followJob(engine, out, job)
      out.result(r, () =>
        [
          ...describeHeldout(r),
          `nll per token      ${r.nllPerToken.toFixed(4)} nats`,
          r.bos
            ? `each line after    ${r.bos}${r.prefix === 'eos' ? ' (the EOS: the model has no BOS)' : ''}`
            : `no BOS or EOS: the first token of each of the ${r.unscoredFirstTokens} lines is not scored`,
        ].join('\n'),
      )
    },
  },
  {
    name: 'model resize',
    summary: 'Give a model embedding rows for an extended tokenizer (from its vocab-changes.json)',
    usage: 'vernacular model resize --model DIR --changes vocab-changes.json --init mean|random --out DIR [--seed S] [--pad-multiple 64] [--json]',
    options: {
      ...JSON_OPT,
      model: { type: 'string', short: 'm' },
      changes: { type: 'string', short: 'c' },
      init: { type: 'string' },
      out: { type: 'string', short: 'o' },
      seed: { type: 'string' },
      'pad-multiple': { type: 'string' },
    },
    async run({ engine, out, values }) {
      const params = defined({
        model: stringOption(values, 'model'),
        changes: stringOption(values, 'changes'),
        init: stringOption(values, 'init'),
        out: stringOption(values, 'out'),
        seed: numberOption(this, values, 'seed'),
        padMultiple: numberOption(this, values, 'pad-multiple'),
      })
      const { job } = await call(this, engine, 'model.resize', params)
      const r = await followJob(engine, out, job)
      out.result(r, () => describeResize(r))
    },
  },
  {
    name: 'model estimate',
    summary: 'Memory a training step of a model takes: weights, gradients, optimiser state, activations',
    usage: 'vernacular model estimate --model DIR --batch B --seq-len T [--optimizer adamw|sgd] [--recompute] [--json]',
    options: { ...JSON_OPT, model: { type: 'string', short: 'm' }, batch: { type: 'string' }, 'seq-len': { type: 'string' }, optimizer: { type: 'string' }, recompute: { type: 'boolean' } },
    async run({ engine, out, values }) {
      const params = defined({
        model: stringOption(values, 'model'),
        batch: numberOption(this, values, 'batch'),
        seqLen: numberOption(this, values, 'seq-len'),
        optimizer: stringOption(values, 'optimizer'),
        // With each layer's activations recomputed in the backward pass (the training setting recompute).
        recompute: values.recompute === true ? true : undefined,
      })
      const r = await call(this, engine, 'model.estimate', params)
      out.result(r, () => describeEstimate(r))
    },
  },
  {
    name: 'model set-base',
    summary: "Record a Hugging Face model folder as a project's base model",
    usage: 'vernacular model set-base PROJECT DIR [--json]',
    args: 'PROJECT DIR',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir, path] = positionals(this, given, ['PROJECT', 'DIR'])
      const s = await call(this, engine, 'baseModel.set', { dir, path })
      out.result(s, () => describeBaseModel(s))
    },
  },
  {
    name: 'model status',
    summary: "A project's base model, whether training it fits this machine, and its resized models",
    usage: 'vernacular model status PROJECT [--json]',
    args: 'PROJECT',
    options: { ...JSON_OPT },
    async run({ engine, out, positionals: given }) {
      const [dir] = positionals(this, given, ['PROJECT'])
      const s = await call(this, engine, 'baseModel.status', { dir })
      out.result(s, () => describeBaseModel(s))
    },
  },
]
