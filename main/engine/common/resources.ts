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
  const packaged = join((process as { resourcesPath?: string }).resourcesPath ?? '/nonexistent', 'resources')
  if (existsSync(join(packaged, 'demo', 'templates'))) return packaged
  // From a checkout or an npm install: the package root is the nearest folder above this module
  // (main/engine/common when run from source, out/main or out/main/chunks when built) with resources/.
  for (let dir = here; dirname(dir) !== dir; dir = dirname(dir)) {
    const candidate = join(dir, 'resources')
    if (existsSync(join(candidate, 'demo', 'templates'))) return candidate
  }
  return resolve(here, '../../resources')
}
