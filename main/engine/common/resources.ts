import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

/**
 * The folder of files that ship with the app (demo corpora, the demo project, icons). From a
 * checkout or npm install it is `resources/` at the package root; in a packaged desktop app it
 * sits in Electron's resources folder. `VERNACULAR_RESOURCES` overrides both.
 */
export function resourcesDir(): string {
  if (process.env.VERNACULAR_RESOURCES) return resolve(process.env.VERNACULAR_RESOURCES)
  const here = typeof __dirname === 'string' ? __dirname : dirname(new URL(import.meta.url).pathname)
  const candidates = [
    join((process as { resourcesPath?: string }).resourcesPath ?? '/nonexistent', 'resources'),
    resolve(here, '../../resources'), // out/main → package root
    resolve(here, '../../../resources'), // main/engine/common → package root (running from source)
  ]
  for (const c of candidates) if (existsSync(join(c, 'demo', 'project.json'))) return c
  return resolve(here, '../../resources')
}
