/**
 * The demo project and its template (resources/demo/project.json): corpora, base tokenizer and
 * base model. It sits above the stages, since opening the demo uses several of them.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import type { CorpusRole, ProjectSummary } from '../contract'
import { EngineError } from '../common/errors'
import { pathExists } from '../common/fsutil'
import { writeOutputDirWith } from '../common/outputdir'
import { resourcesDir } from '../common/resources'
import { parseModelConfig } from '../model/config'
import { writeInitialisedModel } from '../model/init'
import { manifestPath } from '../project/manifest'
import { createProject, openProject } from '../project/projects'
import { readRoleState } from '../corpus/store'
import { setBaseModel } from '../model/project'
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
   * The base model: a config.json (relative to resources/demo) whose weights are initialised on
   * first use (no pretrained weights can ship or be downloaded), with the base tokenizer beside it.
   */
  baseModel: z.object({ config: z.string(), seed: z.number().int().default(0) }).optional(),
})

export type DemoTemplate = z.infer<typeof template>

/** Where the demo project lives: inside the user's Vernacular folder, out of the way. */
export function demoProjectDir(home: string): string {
  return join(home, 'demo')
}

/** The demo corpora to ingest for each role, as absolute paths. */
export function demoCorpora(spec: DemoTemplate): { role: CorpusRole; paths: string[] }[] {
  const base = join(resourcesDir(), 'demo')
  return (['target', 'english'] as const).flatMap((role) => {
    const paths = spec.corpora?.[role] ?? []
    return paths.length ? [{ role, paths: paths.map((p) => join(base, p)) }] : []
  })
}

/** The demo's base tokenizer.json as an absolute path, if the template names one. */
export function demoBaseTokenizer(spec: DemoTemplate): string | null {
  return spec.baseTokenizer ? join(resourcesDir(), 'demo', spec.baseTokenizer) : null
}

/** The demo's base model folder inside the demo project, written on first use. */
export async function ensureDemoBaseModel(projectDir: string, spec: DemoTemplate): Promise<string | null> {
  if (!spec.baseModel) return null
  const out = join(projectDir, 'base-model')
  if (await pathExists(join(out, 'config.json'))) return out
  const configFile = join(resourcesDir(), 'demo', spec.baseModel.config)
  const config = parseModelConfig(JSON.parse(await fs.readFile(configFile, 'utf8')), configFile)
  await writeOutputDirWith(out, () => false, async (staging) => {
    await writeInitialisedModel(staging, config, { seed: spec.baseModel?.seed ?? 0, dtype: config.dtype })
    const tokenizer = demoBaseTokenizer(spec)
    if (tokenizer) await fs.copyFile(tokenizer, join(staging, 'tokenizer.json'))
  })
  return out
}

/** Opens the demo project, creating it from `resources/demo/project.json` the first time. */
export async function ensureDemoProject(home: string): Promise<ProjectSummary & { created: boolean; template: DemoTemplate }> {
  const dir = demoProjectDir(home)
  const file = join(resourcesDir(), 'demo', 'project.json')
  let spec: DemoTemplate
  try {
    spec = template.parse(JSON.parse(await fs.readFile(file, 'utf8')))
  } catch (e) {
    throw new EngineError('not-found', `The demo project template ${file} is missing or damaged: ${(e as Error).message}`, {
      file,
      hint: 'Reinstall Vernacular, or set VERNACULAR_RESOURCES to the folder that holds demo/project.json.',
    })
  }
  if (await pathExists(manifestPath(dir))) return { ...(await openProject(dir)), created: false, template: spec }
  return { ...(await createProject({ dir, name: spec.name, language: spec.language })), created: true, template: spec }
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
  let changed = false
  const baseTokenizer = demoBaseTokenizer(spec)
  if (baseTokenizer && !summary.manifest.baseTokenizer) {
    await setBaseTokenizer(summary.dir, baseTokenizer)
    changed = true
  }
  if (spec.baseModel && !summary.manifest.baseModel) {
    const model = await ensureDemoBaseModel(summary.dir, spec)
    if (model) await setBaseModel(summary.dir, model)
    changed = true
  }
  return { ...(changed ? await openProject(summary.dir) : summary), created }
}
