import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import type { ProjectSummary } from '../contract'
import { EngineError } from '../errors'
import { pathExists } from '../fsutil'
import { resourcesDir } from '../resources'
import { manifestPath } from './manifest'
import { createProject, openProject } from './projects'

const template = z.object({ name: z.string(), language: z.string(), description: z.string().optional() })

/** Where the demo project lives: inside the user's Vernacular folder, out of the way. */
export function demoProjectDir(home: string): string {
  return join(home, 'demo')
}

/** Opens the demo project, creating it from `resources/demo/project.json` the first time. */
export async function ensureDemoProject(home: string): Promise<ProjectSummary & { created: boolean }> {
  const dir = demoProjectDir(home)
  if (await pathExists(manifestPath(dir))) return { ...(await openProject(dir)), created: false }
  const file = join(resourcesDir(), 'demo', 'project.json')
  let spec: z.infer<typeof template>
  try {
    spec = template.parse(JSON.parse(await fs.readFile(file, 'utf8')))
  } catch (e) {
    throw new EngineError('not-found', `The demo project template ${file} is missing or damaged: ${(e as Error).message}`, {
      file,
      hint: 'Reinstall Vernacular, or set VERNACULAR_RESOURCES to the folder that holds demo/project.json.',
    })
  }
  return { ...(await createProject({ dir, name: spec.name, language: spec.language })), created: true }
}
