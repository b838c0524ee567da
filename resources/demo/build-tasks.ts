/**
 * `npm run demo:tasks`: makes the demo's cloze tasks, resources/demo/tasks/{hu,th,en}-cloze.jsonl,
 * from the HELD-OUT split of each demo corpus, so that no task text was trained on.
 *
 * Each corpus (resources/demo/corpora/<lang>) is ingested into a temporary project exactly as a
 * demo project ingests it (the Corpus step's defaults: the split is by document hash), and the
 * held-out documents go through `buildCloze` (main/engine/evaluation/cloze.ts) with PCG32 draws
 * from the seed. The same corpora and seed give the same files byte for byte; a test checks it.
 *
 * Flags: --seed N (default 1), --lang hu,th,en, --out DIR (default resources/demo/tasks).
 */
import { promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { JobTypes } from '../../main/engine/contract'
import { ingestCorpus } from '../../main/engine/corpus/ingest'
import { corpusDocuments } from '../../main/engine/corpus/text'
import { buildCloze, clozeJsonl } from '../../main/engine/evaluation/cloze'
import { JobManager } from '../../main/engine/jobs/manager'
import { createProject } from '../../main/engine/project/projects'

const ROOT = resolve(__dirname, '../..')
const DEMO = join(ROOT, 'resources', 'demo')
export const DEMO_TASK_LANGUAGES = ['hu', 'th', 'en'] as const
export type DemoTaskLanguage = (typeof DEMO_TASK_LANGUAGES)[number]
export const DEFAULT_SEED = 1

/** The held-out documents of a demo corpus, as a demo project's ingest splits them. */
export async function demoHeldout(lang: DemoTaskLanguage): Promise<string[]> {
  const dir = await fs.mkdtemp(join(tmpdir(), `vernacular-tasks-${lang}-`))
  try {
    const projectDir = join(dir, 'project')
    await createProject({ dir: projectDir, name: `Demo ${lang} tasks`, language: lang })
    const jobs = new JobManager<JobTypes>({ logDir: join(dir, 'logs') })
    const job = jobs.start({ kind: 'ingest', title: `ingest ${lang}`, projectDir, run: (ctx) => ingestCorpus(ctx, { projectDir, role: 'target', paths: [join(DEMO, 'corpora', lang)] }) })
    const end = await jobs.waitFor(job)
    if (end.state !== 'done') throw new Error(`ingesting the ${lang} demo corpus failed: ${end.error?.message ?? end.state}`)
    await jobs.shutdown()
    const docs: string[] = []
    for await (const d of corpusDocuments(projectDir, 'target', 'heldout')) docs.push(d)
    return docs
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** The text of a demo cloze task file. */
export async function demoClozeTask(lang: DemoTaskLanguage, seed = DEFAULT_SEED): Promise<string> {
  const items = buildCloze(await demoHeldout(lang), lang, { seed })
  if (items.length < 200) throw new Error(`only ${items.length} cloze items from the ${lang} held-out split; the demo needs at least 200`)
  return clozeJsonl(items)
}

async function main(): Promise<void> {
  let seed = DEFAULT_SEED
  let langs: DemoTaskLanguage[] = [...DEMO_TASK_LANGUAGES]
  let out = join(DEMO, 'tasks')
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--seed') {
      seed = Number(argv[++i])
      if (!Number.isSafeInteger(seed) || seed < 0) throw new Error('--seed needs a whole number ≥ 0')
    } else if (a === '--lang') {
      langs = (argv[++i] ?? '').split(',') as DemoTaskLanguage[]
      const bad = langs.find((l) => !DEMO_TASK_LANGUAGES.includes(l))
      if (bad !== undefined) throw new Error(`--lang takes ${DEMO_TASK_LANGUAGES.join(', ')}, not "${bad}"`)
    } else if (a === '--out') out = resolve(argv[++i] ?? '')
    else throw new Error(`unknown flag ${a} (flags: --seed N --lang hu,th,en --out DIR)`)
  }
  await fs.mkdir(out, { recursive: true })
  for (const lang of langs) {
    const text = await demoClozeTask(lang, seed)
    const file = join(out, `${lang}-cloze.jsonl`)
    await fs.writeFile(file, text)
    console.log(`wrote ${file}: ${text.split('\n').length - 1} items`)
  }
}

// Run when executed as a script (scripts/run-ts.mjs), not when a test imports it.
if (typeof module !== 'undefined' && typeof require !== 'undefined' && require.main === module) {
  main().catch((e: unknown) => {
    console.error(`demo:tasks failed: ${(e as Error).message}`)
    process.exit(1)
  })
}
