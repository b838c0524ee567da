/**
 * The LLaMA-Factory side of a bundle: `train.yaml` for `llamafactory-cli train` (stage `pt`, full
 * fine-tuning), a DeepSpeed ZeRO-3 config, `data/dataset_info.json` and each language's training
 * text as JSONL (`{"text": document}` a line), and a launch script.
 *
 * Only keys that LLaMA-Factory 0.9 documents are written (LLAMAFACTORY_KEYS; the tests hold the
 * YAML to them). What has no equivalent there is said in the bundle's README (readme.ts):
 *   - the replay order: LLaMA-Factory interleaves *documents* by probability (`interleave_under`),
 *     then packs; we draw each *sequence's* language from PCG32. The probabilities are set so that
 *     the expected share of tokens is the run's replay share (see `documentProbabilities`);
 *   - the learning-rate floor: `cosine` decays to 0, ours to 10% of the peak;
 *   - weight decay of the embeddings: Hugging Face's Trainer decays them, we do not;
 *   - the embedding-only first stage.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Language } from '../training/mixture'
import type { HandoffRecord } from './bundle'

/** The LLaMA-Factory release the YAML is written for. */
export const LLAMAFACTORY_VERSION = '0.9.1'

/** Every key train.yaml may hold: those LLaMA-Factory 0.9 documents for continued pretraining. */
export const LLAMAFACTORY_KEYS = [
  'model_name_or_path',
  'stage',
  'do_train',
  'finetuning_type',
  'dataset',
  'dataset_dir',
  'cutoff_len',
  'packing',
  'neat_packing',
  'mix_strategy',
  'interleave_probs',
  'per_device_train_batch_size',
  'gradient_accumulation_steps',
  'learning_rate',
  'lr_scheduler_type',
  'warmup_steps',
  'max_steps',
  'weight_decay',
  'max_grad_norm',
  'bf16',
  'deepspeed',
  'output_dir',
  'save_steps',
  'logging_steps',
  'seed',
] as const

type YamlValue = string | number | boolean
type LlamaFactoryKey = (typeof LLAMAFACTORY_KEYS)[number]

export const DATASET_NAMES: Record<Language, string> = { target: 'vernacular_target', english: 'vernacular_english' }

/**
 * `interleave_probs` for a token share: LLaMA-Factory picks documents, so a language whose documents
 * are longer gets more tokens than its probability. With mean lengths ℓ_t and ℓ_e (tokens, EOS
 * included), English gets p_e = s·ℓ_t / (s·ℓ_t + (1 − s)·ℓ_e) of the documents for a token share s.
 */
export function documentProbabilities(share: number, target: { tokens: number; documents: number }, english: { tokens: number; documents: number }): { target: number; english: number } {
  const lt = (target.tokens + target.documents) / Math.max(1, target.documents)
  const le = (english.tokens + english.documents) / Math.max(1, english.documents)
  const pe = (share * lt) / (share * lt + (1 - share) * le)
  return { target: 1 - pe, english: pe }
}

/** A number as YAML writes it so that PyYAML reads a float (1e-4 would be a string to it). */
function yamlNumber(x: number): string {
  if (Number.isInteger(x)) return String(x)
  const s = String(x)
  if (!/e/i.test(s)) return s
  const [m, e] = s.split(/e/i) as [string, string]
  return `${m.includes('.') ? m : `${m}.0`}e${Number(e) < 0 ? '-' : '+'}${String(Math.abs(Number(e)))}`
}

function yamlValue(v: YamlValue): string {
  if (typeof v === 'number') return yamlNumber(v)
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  return /^[A-Za-z0-9_./,-]+$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v) && !/^[-+.\d]/.test(v) ? v : JSON.stringify(v)
}

/** The train.yaml fields of a bundle, in sections, by key. */
export function trainYaml(record: HandoffRecord): { sections: [string, Partial<Record<LlamaFactoryKey, YamlValue>>][]; probs: { target: number; english: number } | null } {
  const s = record.settings
  const english = record.data.english
  const mixing = record.englishShare > 0 && english !== null
  const probs = mixing ? documentProbabilities(record.englishShare, record.data.target as { tokens: number; documents: number }, english) : null
  const round = (x: number) => Math.round(x * 1e4) / 1e4
  return {
    probs,
    sections: [
      ['model', { model_name_or_path: record.model.dir }],
      ['method', { stage: 'pt', do_train: true, finetuning_type: 'full', deepspeed: 'ds_z3_config.json' }],
      [
        'dataset',
        {
          dataset: mixing ? `${DATASET_NAMES.target},${DATASET_NAMES.english}` : DATASET_NAMES.target,
          dataset_dir: 'data',
          cutoff_len: s.sequenceLength,
          packing: true,
          neat_packing: s.documentMasking,
          ...(probs ? { mix_strategy: 'interleave_under', interleave_probs: `${round(probs.target)},${round(1 - round(probs.target))}` } : {}),
        },
      ],
      ['output', { output_dir: 'output', save_steps: s.checkpointEvery, logging_steps: 1 }],
      [
        'train',
        {
          per_device_train_batch_size: s.batchSize,
          gradient_accumulation_steps: s.gradientAccumulation,
          learning_rate: s.learningRate,
          lr_scheduler_type: 'cosine',
          warmup_steps: record.schedule.warmupSteps,
          max_steps: s.steps,
          weight_decay: s.weightDecay,
          max_grad_norm: record.optimizer.maxGradNorm,
          bf16: true,
          seed: s.seed,
        },
      ],
    ],
  }
}

function renderYaml(record: HandoffRecord): string {
  const { sections, probs } = trainYaml(record)
  const lines = [
    `# LLaMA-Factory ${LLAMAFACTORY_VERSION}: llamafactory-cli train train.yaml`,
    `# Written by Vernacular ${record.vernacular} for run "${record.run}" of project "${record.project.name}".`,
  ]
  if (probs) {
    lines.push(`# interleave_probs picks documents; set so that ${Math.round(record.englishShare * 1000) / 10}% of the tokens are English (README.md, "Replay").`)
  }
  for (const [name, fields] of sections) {
    lines.push('', `### ${name}`)
    for (const [k, v] of Object.entries(fields)) lines.push(`${k}: ${yamlValue(v as YamlValue)}`)
  }
  return lines.join('\n') + '\n'
}

/** DeepSpeed ZeRO-3 as LLaMA-Factory's examples configure it, gathering whole weights when a checkpoint is saved. */
export function zero3Config(): Record<string, unknown> {
  return {
    train_batch_size: 'auto',
    train_micro_batch_size_per_gpu: 'auto',
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    zero_allow_untested_optimizer: true,
    bf16: { enabled: 'auto' },
    zero_optimization: {
      stage: 3,
      overlap_comm: true,
      contiguous_gradients: true,
      sub_group_size: 1e9,
      reduce_bucket_size: 'auto',
      stage3_prefetch_bucket_size: 'auto',
      stage3_param_persistence_threshold: 'auto',
      stage3_max_live_parameters: 1e9,
      stage3_max_reuse_distance: 1e9,
      stage3_gather_16bit_weights_on_model_save: true,
    },
  }
}

const LAUNCH = `#!/usr/bin/env bash
# Trains the run with LLaMA-Factory (README.md). On one machine it uses every GPU it sees; on
# several, run it on each with the same --master-addr and --master-port and its own --node-rank.
#
#   ./launch.sh                                   this machine's GPUs
#   ./launch.sh --nnodes 2 --node-rank 0 --master-addr HOST [--master-port 29500]
set -euo pipefail
cd "$(dirname "$0")"
NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500
while [ $# -gt 0 ]; do
  case "$1" in
    --nnodes) NNODES="$2"; shift 2 ;;
    --node-rank) NODE_RANK="$2"; shift 2 ;;
    --master-addr) MASTER_ADDR="$2"; shift 2 ;;
    --master-port) MASTER_PORT="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "launch.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
export FORCE_TORCHRUN=1 NNODES NODE_RANK MASTER_ADDR MASTER_PORT
exec llamafactory-cli train train.yaml
`

/**
 * Writes each language's text as data/<role>.jsonl into `staging` (streamed) and returns the small
 * files of the LLaMA-Factory target by name.
 */
export async function llamaFactoryFiles(
  record: HandoffRecord,
  texts: Partial<Record<Language, AsyncIterable<string>>>,
  staging: string,
  progress: (message: string) => void,
): Promise<Record<string, string>> {
  const info: Record<string, unknown> = {}
  for (const [role, docs] of Object.entries(texts) as [Language, AsyncIterable<string>][]) {
    const file = `${role}.jsonl`
    progress(`Data: ${file}`)
    const h = await fs.open(join(staging, 'data', file), 'w')
    try {
      let chunk = ''
      for await (const doc of docs) {
        chunk += JSON.stringify({ text: doc }) + '\n'
        if (chunk.length > 1 << 20) {
          await h.write(chunk)
          chunk = ''
        }
      }
      await h.write(chunk)
      await h.sync()
    } finally {
      await h.close()
    }
    info[DATASET_NAMES[role]] = { file_name: file, columns: { prompt: 'text' } }
  }
  return {
    'train.yaml': renderYaml(record),
    'ds_z3_config.json': JSON.stringify(zero3Config(), null, 2) + '\n',
    'data/dataset_info.json': JSON.stringify(info, null, 2) + '\n',
    'launch.sh': LAUNCH,
    'requirements.txt': `# The versions train.yaml was written for (not run by Vernacular's tests: see README.md).\nllamafactory==${LLAMAFACTORY_VERSION}\ndeepspeed>=0.14,<0.16\n`,
  }
}
