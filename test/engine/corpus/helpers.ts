import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { IngestOptions, JobTypes } from '../../../main/engine/contract'
import { ingestCorpus } from '../../../main/engine/corpus/ingest'
import { JobManager } from '../../../main/engine/jobs/manager'
import { createProject } from '../../../main/engine/project/projects'

/** Runs ingest as the app does, through a job, and returns the job's end state. */
export async function ingest(projectDir: string, role: 'target' | 'english', paths: string[], options: Partial<IngestOptions> = {}, cancelAfterMs?: number) {
  const jobs = new JobManager<JobTypes>({ logDir: join(projectDir, 'logs') })
  const job = jobs.start({ kind: 'ingest', title: 'ingest', projectDir, run: (ctx) => ingestCorpus(ctx, { projectDir, role, paths, options }) })
  if (cancelAfterMs !== undefined) setTimeout(() => jobs.cancel(job.id), cancelAfterMs)
  const final = await jobs.waitFor(job)
  return { final, stats: final.result!, log: final.logFile ? await fs.readFile(final.logFile, 'utf8') : '' }
}

export async function project(dir: string, language = 'hu'): Promise<string> {
  await createProject({ dir, name: 'Corpus test', language })
  return dir
}

export async function write(dir: string, name: string, content: string | Buffer): Promise<string> {
  const p = join(dir, name)
  await fs.mkdir(join(p, '..'), { recursive: true })
  await fs.writeFile(p, content)
  return p
}

export const HU = [
  'A magyar nyelv az uráli nyelvcsalád tagja, a finnugor nyelvek közé tartozik.',
  'Budapest Magyarország fővárosa, a Duna két partján fekszik.',
  'A LibreOffice egy szabad irodai programcsomag, amely szövegszerkesztőt is tartalmaz.',
  'Az időjárás ma kellemes, a hőmérséklet húsz fok körül alakul.',
  'A könyvtár hétfőtől péntekig reggel nyolctól este hatig tart nyitva.',
  'Kérjük, mentse el a dokumentumot, mielőtt bezárja a programot.',
]

/** `n` distinct Hungarian-looking documents. */
export function huDocs(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${HU[i % HU.length]} Ez a ${i + 1}. bekezdés, amely a példakorpusz része.`)
}
