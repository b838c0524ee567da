/**
 * The Export step's choices: which checkpoint to offer first, the size each storage type comes to,
 * a folder to suggest, how to load the folder written, and telling the engine's refusal of a
 * non-empty folder from its other errors. The engine checks every choice itself.
 */
import { ApiError, type BestCheckpoint, EXPORT_DTYPES, type ExportDtype, type ExportFormat, GGUF_DTYPES, type RunStatus } from '../../main/engine/contract'
import { joinPath } from './paths'

/** Bytes per weight of each storage type of the exported model.safetensors. */
export const DTYPE_BYTES: Readonly<Record<ExportDtype, number>> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32 }

export const DTYPE_LABELS: Readonly<Record<ExportDtype, { name: string; note: string }>> = {
  f32: { name: 'F32', note: 'float32, the checkpoint’s own weights bit for bit' },
  f16: { name: 'F16', note: 'half the size; refused if a weight lies outside F16’s range' },
  bf16: { name: 'BF16', note: 'half the size, with F32’s range and fewer digits' },
  q8_0: { name: 'Q8_0', note: 'about a quarter of F32: 8-bit weights in blocks of 32 with an F16 scale (GGUF only)' },
}

/** The size of the weights file in a storage type: parameters × bytes per weight (the header and the other files add a little). */
export function estimatedWeightBytes(parameters: number, dtype: ExportDtype): number {
  return parameters * DTYPE_BYTES[dtype]
}

/** A checkpoint of a run. */
export interface CheckpointChoice {
  run: string
  step: number
}

/**
 * The checkpoint offered first: the suggested one when a run still has it, else the newest
 * checkpoint of the newest run that has one (runs in the project's order); null when none has any.
 */
export function defaultCheckpoint(runs: readonly RunStatus[], best: BestCheckpoint | null): CheckpointChoice | null {
  if (best && runs.some((r) => r.name === best.run && r.checkpoints.some((c) => c.step === best.step))) return { run: best.run, step: best.step }
  for (const r of [...runs].reverse()) {
    const newest = r.checkpoints.reduce<number | null>((max, c) => (max === null || c.step > max ? c.step : max), null)
    if (newest !== null) return { run: r.name, step: newest }
  }
  return null
}

/** A folder to suggest for an export: `exports/<run>-step-<n>` in the project. */
export function suggestedExportFolder(projectDir: string, choice: CheckpointChoice, format: ExportFormat = 'hf'): string {
  return joinPath(joinPath(projectDir, 'exports'), `${choice.run}-step-${choice.step}${format === 'gguf' ? '-gguf' : ''}`)
}

/** The export formats the step offers, with what each is for. */
export const FORMAT_LABELS: Readonly<Record<ExportFormat, { name: string; note: string }>> = {
  hf: { name: 'Hugging Face folder', note: 'safetensors weights, tokenizer and a model card, for transformers and the Hub' },
  gguf: { name: 'GGUF file', note: 'one file for llama.cpp, LM Studio and Ollama (with a Modelfile)' },
}

/** The storage types of a format. */
export function formatDtypes(format: ExportFormat): readonly ExportDtype[] {
  return format === 'gguf' ? GGUF_DTYPES : EXPORT_DTYPES
}

/** How to run a GGUF export with Ollama and llama.cpp (the file is the .gguf among the files written). */
export function ggufSnippet(out: string, files: readonly { name: string }[]): string {
  const file = files.find((f) => f.name.endsWith('.gguf'))?.name ?? 'model.gguf'
  const q = (p: string) => (/^[\w./:-]+$/.test(p) ? p : JSON.stringify(p))
  return [
    `# Ollama (the Modelfile is beside the file)`,
    `cd ${q(out)}`,
    `ollama create my-model -f Modelfile`,
    `ollama run my-model "…"`,
    '',
    `# llama.cpp`,
    `llama-cli -m ${q(joinPath(out, file))} -p "…" -n 64`,
  ].join('\n')
}

/** How to load the folder with transformers (the path as a Python string literal). */
export function loadSnippet(path: string): string {
  const literal = JSON.stringify(path)
  return [
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    '',
    `model = AutoModelForCausalLM.from_pretrained(${literal})`,
    `tokenizer = AutoTokenizer.from_pretrained(${literal})`,
  ].join('\n')
}

/** Whether an export was refused because its folder is not empty and no export wrote it (Replace it can then force it). */
export function isForeignFolderRefusal(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'bad-input' && /is not empty and was not written by vernacular export/.test(error.message)
}
