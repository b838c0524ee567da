/** The steps of a project, in the order the data flows through them (see docs/architecture.md, "What the product does, as data flowing through it"). */
import { DEFAULT_REPLAY } from '../../../main/engine/contract'
import { formatPercent } from '../format'

export type StepId = 'overview' | 'corpus' | 'base-model' | 'vocabulary' | 'replay' | 'training' | 'compare' | 'export'

export interface WizardStep {
  id: StepId
  label: string
  /** What the step does, in a sentence or two. */
  summary: string
  /** Whether the step has a view (ProjectView maps built steps to theirs); the others show a placeholder. */
  built: boolean
}

export const WIZARD_STEPS: readonly WizardStep[] = [
  {
    id: 'overview',
    label: 'Overview',
    summary: 'The project: its name, language, folder and the settings it plans to use.',
    built: true,
  },
  {
    id: 'corpus',
    label: 'Corpus',
    summary:
      'Ingest target-language text and an English replay corpus, clean it, split it into training and held-out shards, and profile it: size, scripts, duplicates.',
    built: true,
  },
  {
    id: 'base-model',
    label: 'Base model',
    summary: 'Choose a Hugging Face model folder, read its configuration and tokenizer, check that training it fits in this machine’s memory, and resize its embeddings for an extended tokenizer.',
    built: true,
  },
  {
    id: 'vocabulary',
    label: 'Vocabulary',
    summary:
      'Learn target-language tokens by continued BPE on the base tokenizer, adding them or replacing rarely used base tokens, with a fertility sweep and a live token preview.',
    built: true,
  },
  {
    id: 'replay',
    label: 'Replay mix',
    summary: `Choose the share of English text mixed into training to limit forgetting (default ${formatPercent(DEFAULT_REPLAY.englishShare)}), and see what the plan comes to: tokens per language, passes over the corpus, time.`,
    built: true,
  },
  {
    id: 'training',
    label: 'Training',
    summary: 'Continual pretraining of the resized model on the mixed token shards, with live loss and held-out charts per language, and checkpoints that can be paused, resumed and compared.',
    built: true,
  },
  {
    id: 'compare',
    label: 'Compare',
    summary:
      'Bits per byte on held-out text in both languages across checkpoints, and a forgetting dashboard that sets the target-language gain against the English loss.',
    built: true,
  },
  {
    id: 'export',
    label: 'Export',
    summary: 'Write the chosen checkpoint and its extended tokenizer as a Hugging Face model folder.',
    built: true,
  },
]

export function findStep(id: string): WizardStep | null {
  return WIZARD_STEPS.find((step) => step.id === id) ?? null
}
