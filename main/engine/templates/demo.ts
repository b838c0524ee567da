/**
 * Project templates (resources/demo/templates/<name>/template.json): `demo` (Hungarian) and
 * `demo-th` (Thai), each with its corpora, base tokenizer and base model, vocabulary plan, English
 * replay share and training settings sized for a small budget. The demo project the app opens is
 * the `demo` template in the user's Vernacular folder. This module sits above the stages, since
 * making a project from a template uses several of them.
 */
import { promises as fs } from 'node:fs'
import { basename, join } from 'node:path'
import { z } from 'zod'
import { type CorpusRole, type ProjectSummary, TEMPLATE_NAMES, type TemplateName, trainingSettings, vocabularyPlan, replayMix } from '../contract'
import { EngineError } from '../common/errors'
import { pathExists } from '../common/fsutil'
import { writeOutputDirWith } from '../common/outputdir'
import { resourcesDir } from '../common/resources'
import { readRoleState } from '../corpus/store'
import { TASKS_DIR } from '../evaluation/project'
import { setBaseModel } from '../model/project'
import { manifestPath } from '../project/manifest'
import { createProject, openProject, updateProject } from '../project/projects'
import { setBaseTokenizer } from '../tokenizer/project'

const template = z.object({
  name: z.string(),
  language: z.string(),
  description: z.string().optional(),
  /** Demo text for each role, relative to resources/demo. */
  corpora: z.object({ target: z.array(z.string()), english: z.array(z.string()) }).partial().optional(),
  /** The base tokenizer.json, relative to resources/demo. */
  baseTokenizer: z.string().optional(),
  /**
   * The base model: a Hugging Face folder (relative to resources/demo), copied into the project on
   * first use. The demo's is pretrained by `npm run demo:base-model` (its README.md says how).
   */
  baseModel: z.object({ dir: z.string() }).optional(),
  /** Multiple-choice task files (relative to resources/demo), copied into the project's tasks/ folder. */
  tasks: z.array(z.string()).default([]),
  vocabulary: vocabularyPlan.optional(),
  replay: replayMix.optional(),
  training: trainingSettings.partial().optional(),
})

export type DemoTemplate = z.infer<typeof template>

/** Where the demo project lives: inside the user's Vernacular folder, out of the way. */
export function demoProjectDir(home: string): string {
  return join(home, 'demo')
}

function templateFile(name: TemplateName): string {
  return join(resourcesDir(), 'demo', 'templates', name, 'template.json')
}

export async function readTemplate(name: TemplateName): Promise<DemoTemplate> {
  const file = templateFile(name)
  try {
    return template.parse(JSON.parse(await fs.readFile(file, 'utf8')))
  } catch (e) {
    throw new EngineError('not-found', `The project template ${file} is missing or damaged: ${(e as Error).message}`, {
      file,
      hint: 'Reinstall Vernacular, or set VERNACULAR_RESOURCES to the folder that holds demo/templates/.',
    })
  }
}

/** The template's corpora to ingest for each role, as absolute paths. */
export function demoCorpora(spec: DemoTemplate): { role: CorpusRole; paths: string[] }[] {
  const base = join(resourcesDir(), 'demo')
  return (['target', 'english'] as const).flatMap((role) => {
    const paths = spec.corpora?.[role] ?? []
    return paths.length ? [{ role, paths: paths.map((p) => join(base, p)) }] : []
  })
}

/** The template's base tokenizer.json as an absolute path, if it names one. */
export function demoBaseTokenizer(spec: DemoTemplate): string | null {
  return spec.baseTokenizer ? join(resourcesDir(), 'demo', spec.baseTokenizer) : null
}

/** The files of a template's base model folder that a project copies. */
const BASE_MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'README.md']

/** The template's base model folder inside the project (a copy of the template's), written on first use. */
export async function ensureDemoBaseModel(projectDir: string, spec: DemoTemplate): Promise<string | null> {
  if (!spec.baseModel) return null
  const out = join(projectDir, 'base-model')
  if (await pathExists(join(out, 'config.json'))) return out
  const source = join(resourcesDir(), 'demo', spec.baseModel.dir)
  if (!(await pathExists(join(source, 'model.safetensors')))) {
    throw new EngineError('not-found', `The template's base model ${source} is missing.`, {
      file: source,
      hint: 'Reinstall Vernacular, or rebuild it with `npm run demo:base-model` in a source checkout.',
    })
  }
  await writeOutputDirWith(out, () => false, async (staging) => {
    for (const f of BASE_MODEL_FILES) if (await pathExists(join(source, f))) await fs.copyFile(join(source, f), join(staging, f))
  })
  return out
}

/** Copies the template's tasks into the project's tasks/ folder (those not there yet). */
async function copyTemplateTasks(projectDir: string, spec: DemoTemplate): Promise<void> {
  if (!spec.tasks.length) return
  await fs.mkdir(join(projectDir, TASKS_DIR), { recursive: true })
  for (const t of spec.tasks) {
    const to = join(projectDir, TASKS_DIR, basename(t))
    if (!(await pathExists(to))) await fs.copyFile(join(resourcesDir(), 'demo', t), to)
  }
}

/**
 * A new project from a template: its name and language (unless given), base tokenizer and base
 * model, vocabulary plan, replay share and training settings; the manifest records the template,
 * whose corpora `vernacular adapt` (and the demo) ingest.
 */
export async function createFromTemplate(dir: string, name: TemplateName, given: { name?: string | undefined; language?: string | undefined } = {}): Promise<ProjectSummary> {
  const spec = await readTemplate(name)
  await createProject({ dir, name: given.name ?? spec.name, language: given.language ?? spec.language })
  return applyTemplate(dir, name, spec)
}

async function applyTemplate(dir: string, name: TemplateName, spec: DemoTemplate): Promise<ProjectSummary> {
  const baseTokenizer = demoBaseTokenizer(spec)
  if (baseTokenizer) await setBaseTokenizer(dir, baseTokenizer)
  const model = await ensureDemoBaseModel(dir, spec)
  if (model) await setBaseModel(dir, model)
  await copyTemplateTasks(dir, spec)
  return updateProject(dir, `apply the ${name} template`, (m) => ({
    ...m,
    template: name,
    ...(spec.vocabulary ? { vocabulary: spec.vocabulary } : {}),
    ...(spec.replay ? { replay: spec.replay } : {}),
    training: { ...m.training, ...spec.training },
  }))
}

/** The template a project was made from, if any (recorded in its manifest). */
export function projectTemplate(manifest: Record<string, unknown>): TemplateName | null {
  const t = manifest.template
  return typeof t === 'string' && (TEMPLATE_NAMES as readonly string[]).includes(t) ? (t as TemplateName) : null
}

/** The text a template project's template ships for a role (absolute paths). */
export async function templateCorpus(projectDir: string, role: CorpusRole): Promise<string[]> {
  const { manifest } = await openProject(projectDir)
  const name = projectTemplate(manifest)
  if (!name) throw new EngineError('bad-input', `${projectDir} was not made from a template, so it has no template text to ingest.`, { hint: 'Add text with `vernacular corpus add`.' })
  const paths = demoCorpora(await readTemplate(name)).find((c) => c.role === role)?.paths
  if (!paths) throw new EngineError('not-found', `The ${name} template has no ${role} text.`, { hint: 'Add text with `vernacular corpus add`.' })
  return paths
}

/** Opens the demo project, creating it from the `demo` template the first time. */
export async function ensureDemoProject(home: string): Promise<ProjectSummary & { created: boolean; template: DemoTemplate }> {
  const dir = demoProjectDir(home)
  const spec = await readTemplate('demo')
  if (await pathExists(manifestPath(dir))) return { ...(await openProject(dir)), created: false, template: spec }
  return { ...(await createFromTemplate(dir, 'demo')), created: true, template: spec }
}

/** How the demo asks for its corpora to be ingested (as jobs of the engine). */
export interface DemoIngest {
  /** Whether an ingest of the project is queued or running. */
  busy(projectDir: string): boolean
  start(projectDir: string, role: CorpusRole, paths: string[]): void
}

/**
 * Opens the demo project for `project.openDemo`: created the first time, its corpora ingested once
 * in the background (the jobs panel shows them), its base tokenizer and base model set.
 */
export async function openDemoProject(home: string, ingest: DemoIngest): Promise<ProjectSummary & { created: boolean }> {
  const { created, template: spec, ...summary } = await ensureDemoProject(home)
  if (!ingest.busy(summary.dir)) {
    for (const { role, paths } of demoCorpora(spec)) {
      if (!(await readRoleState(summary.dir, role))) ingest.start(summary.dir, role, paths)
    }
  }
  // A demo project made before the template set these is brought up to date.
  if (!summary.manifest.baseTokenizer || !summary.manifest.baseModel) return { ...(await applyTemplate(summary.dir, 'demo', spec)), created }
  return { ...summary, created }
}
