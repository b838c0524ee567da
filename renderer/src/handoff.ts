/**
 * The Training step's "Run on a cluster": the hand-off targets as the panel names them, the folder
 * it suggests, the commands to run on the cluster (the engine's one-GPU command and the README's
 * larger variants), and the refusals the panel answers with its Replace box.
 */
import { ApiError, type HandoffFile, type HandoffResult, type HandoffTarget, type RunStatus } from '../../main/engine/contract'
import { joinPath } from './paths'

/** The targets, with what each means in a line. */
export const TARGET_LABELS: Readonly<Record<HandoffTarget, { name: string; note: string }>> = {
  fsdp: {
    name: 'PyTorch FSDP (torchrun)',
    note: 'Our own training script on one or many GPUs: the same text, in the same order and mix, as training here.',
  },
  llamafactory: {
    name: 'LLaMA-Factory 0.9',
    note: 'A config for LLaMA-Factory, for clusters that already use it: the same text and mix, in its own order.',
  },
}

/** The bundle folder offered: next to the project (a bundle may not be inside it), `<project>-cluster`. */
export function suggestedBundleFolder(projectDir: string): string {
  const trimmed = projectDir.replace(/[\\/]+$/, '')
  const cut = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'))
  if (cut < 0) return `${trimmed}-cluster`
  const parent = trimmed.slice(0, cut)
  const name = trimmed.slice(cut + 1)
  return parent === '' ? `${trimmed[cut]}${name}-cluster` : joinPath(parent, `${name}-cluster`)
}

/** Where the cluster's run writes its checkpoints: `output/` in the bundle (what the engine's import command names). */
export function clusterOutputFolder(bundle: string): string {
  return joinPath(bundle, 'output')
}

/** The name offered for the run brought back: `<run>-cluster`. */
export function importedRunName(run: string): string {
  return `${run}-cluster`
}

export interface ClusterCommand {
  label: string
  command: string
}

/** The commands to run in the bundle folder on the cluster: setting up, then one GPU (the engine's command) and larger variants. */
export function clusterCommands(result: Pick<HandoffResult, 'target' | 'command'>): ClusterCommand[] {
  const setup = { label: 'Once, to install what it needs', command: 'python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt' }
  if (result.target === 'fsdp') {
    return [
      setup,
      { label: 'On one GPU', command: result.command },
      { label: 'On the 8 GPUs of one machine', command: './launch.sh --nproc-per-node 8' },
      { label: 'On 4 machines of 8 GPUs (run it on each, R = 0 to 3)', command: './launch.sh --nproc-per-node 8 --nnodes 4 --node-rank R --rdzv-endpoint HOST:29500' },
    ]
  }
  return [
    setup,
    { label: 'On every GPU of this machine', command: result.command },
    { label: 'On 2 machines (run it on each, R = 0 or 1)', command: './launch.sh --nnodes 2 --node-rank R --master-addr HOST' },
  ]
}

/** The bytes of a bundle's files. */
export function bundleBytes(files: readonly Pick<HandoffFile, 'bytes'>[]): number {
  return files.reduce((sum, f) => sum + f.bytes, 0)
}

/** Whether a hand-off was refused because its folder is not empty and no hand-off wrote it (Replace can then force it). */
export function isForeignBundleRefusal(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'bad-input' && /is not empty and was not written by vernacular handoff/.test(error.message)
}

/** The hint shown with that refusal (the engine's names the CLI's flags). */
export const REPLACE_HINT = 'Choose a new or empty folder, or tick “Replace the folder”: everything in it is deleted.'

/** The runs a bundle can be written for: those not imported (an imported run has no plan). */
export function handoffRuns(runs: readonly RunStatus[]): string[] {
  return runs.filter((r) => r.imported === null).map((r) => r.name)
}

/** "trained elsewhere (imported from …)" for an imported run, else null. */
export function importedNote(run: Pick<RunStatus, 'imported'>): string | null {
  return run.imported ? `trained elsewhere (imported from ${run.imported.from})` : null
}
