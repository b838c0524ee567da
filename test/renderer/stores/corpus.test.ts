import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError, INGEST_JOB, type CorpusStats } from '../../../main/engine/contract'
import { installApi } from '../../../renderer/src/api/client'
import { useCorpusStore } from '../../../renderer/src/stores/corpus'
import { useJobsStore } from '../../../renderer/src/stores/jobs'
import { useProjectStore } from '../../../renderer/src/stores/project'
import { corpusDocument, createFakeApi, job, manifest, roleStats, type FakeApi } from '../fakes'

let api: FakeApi
let statsReplies: CorpusStats[]

const PROJECT = '/projects/magyar'

beforeEach(async () => {
  statsReplies = [{ dir: PROJECT, roles: [] }]
  api = createFakeApi({
    'project.open': ({ dir }) => ({ dir, manifest: manifest() }),
    'corpus.stats': () => statsReplies.shift() ?? { dir: PROJECT, roles: [] },
    'corpus.add': ({ role }) => ({ job: job({ id: `ingest-${role}`, kind: INGEST_JOB, projectDir: PROJECT, state: 'queued' }) }),
    'corpus.sample': ({ n }) => ({ documents: Array.from({ length: n ?? 5 }, (_, i) => corpusDocument({ line: i + 1 })) }),
  })
  installApi(api)
  setActivePinia(createPinia())
  await useProjectStore().open(PROJECT)
  api.calls.length = 0
})

const statsCalls = () => api.calls.filter((c) => c.method === 'corpus.stats')
/** Lets the reload that an event started finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('corpus store', () => {
  it('loads the open project’s profile and splits it by role', async () => {
    statsReplies = [{ dir: PROJECT, roles: [roleStats({ role: 'target' })] }]
    const corpus = useCorpusStore()
    expect(corpus.stats).toBeNull()
    await corpus.load()
    expect(api.calls).toEqual([{ method: 'corpus.stats', params: { dir: PROJECT } }])
    expect(corpus.roles.target?.train.documents).toBe(1200)
    expect(corpus.roles.english).toBeNull()
    expect(corpus.loading).toBe(false)
  })

  it('shows no profile of another project, and keeps a failed load as an error', async () => {
    const corpus = useCorpusStore()
    await corpus.load()
    expect(corpus.stats).not.toBeNull()

    await useProjectStore().open('/projects/other')
    expect(corpus.stats).toBeNull()

    api.handlers['corpus.stats'] = () => {
      throw new ApiError({ code: 'unreadable', message: 'stats.json is damaged', hint: 'Ingest again.' })
    }
    await expect(corpus.load()).resolves.toBeNull()
    expect(corpus.loadError).toEqual({ code: 'unreadable', message: 'stats.json is damaged', hint: 'Ingest again.' })
  })

  it('keeps the newest reply when loads cross', async () => {
    const resolvers: ((stats: CorpusStats) => void)[] = []
    api.handlers['corpus.stats'] = () => new Promise((resolve) => resolvers.push(resolve))
    const corpus = useCorpusStore()
    const first = corpus.load()
    const second = corpus.load()
    resolvers[1]?.({ dir: 'new', roles: [roleStats({ role: 'english' })] })
    await second
    resolvers[0]?.({ dir: 'old', roles: [] })
    await first
    expect(corpus.stats?.dir).toBe('new')
    expect(corpus.roles.english).not.toBeNull()
  })

  it('add() starts an ingest job with the options given and follows it per role', async () => {
    const corpus = useCorpusStore()
    const jobs = useJobsStore()
    const started = await corpus.add('target', ['/data/hu.txt', '/data/more'], { minChars: 5, heldoutFraction: 0.1 })
    expect(started.id).toBe('ingest-target')
    expect(api.calls).toEqual([
      { method: 'corpus.add', params: { dir: PROJECT, role: 'target', paths: ['/data/hu.txt', '/data/more'], options: { minChars: 5, heldoutFraction: 0.1 } } },
    ])
    expect(jobs.get('ingest-target')?.state).toBe('queued')
    expect(corpus.roleJobs.target?.id).toBe('ingest-target')
    expect(corpus.roleJobs.english).toBeNull()
    expect(corpus.ingesting).toEqual({ target: true, english: false })

    api.emit({ type: 'job', job: job({ id: 'ingest-target', revision: 2, kind: INGEST_JOB, projectDir: PROJECT, progress: { fraction: 0.4, message: 'news.jsonl.gz', etaSeconds: 12 } }) })
    expect(corpus.roleJobs.target?.progress.fraction).toBe(0.4)

    await corpus.add('english', ['/data/en.txt'])
    expect(api.calls.at(-1)).toEqual({ method: 'corpus.add', params: { dir: PROJECT, role: 'english', paths: ['/data/en.txt'] } })
  })

  it('reloads the profile when an ingest job of the open project is done, once', async () => {
    const corpus = useCorpusStore()
    await corpus.add('target', ['/data/hu.txt'])
    expect(statsCalls()).toHaveLength(0)

    statsReplies = [{ dir: PROJECT, roles: [roleStats({ role: 'target' })] }]
    const done = job({ id: 'ingest-target', revision: 3, kind: INGEST_JOB, projectDir: PROJECT, state: 'done', result: roleStats({ role: 'target' }) })
    api.emit({ type: 'job', job: done })
    await settle()
    expect(statsCalls()).toHaveLength(1)
    expect(corpus.roles.target).not.toBeNull()
    expect(corpus.ingesting.target).toBe(false)

    // The same snapshot again (a resent event) does not reload a second time.
    api.emit({ type: 'job', job: done })
    await settle()
    expect(statsCalls()).toHaveLength(1)
  })

  it('does not reload for other projects’ jobs, other kinds, or ingests that did not finish well', async () => {
    useCorpusStore()
    const events = [
      job({ id: 'elsewhere', kind: INGEST_JOB, projectDir: '/projects/other', state: 'done' }),
      job({ id: 'bench', kind: 'benchmark', projectDir: PROJECT, state: 'done' }),
      job({ id: 'no-project', kind: INGEST_JOB, projectDir: null, state: 'done' }),
      job({ id: 'failed', kind: INGEST_JOB, projectDir: PROJECT, state: 'failed', error: { code: 'bad-utf8', message: 'news.txt line 3, byte 17: invalid UTF-8' } }),
      job({ id: 'cancelled', kind: INGEST_JOB, projectDir: PROJECT, state: 'cancelled' }),
      job({ id: 'running', kind: INGEST_JOB, projectDir: PROJECT, state: 'running' }),
    ]
    for (const snapshot of events) api.emit({ type: 'job', job: snapshot })
    await settle()
    expect(statsCalls()).toHaveLength(0)
  })

  it('reloads when the reply of add() already says done', async () => {
    api.handlers['corpus.add'] = () => ({ job: job({ id: 'quick', kind: INGEST_JOB, projectDir: PROJECT, state: 'done' }) })
    const corpus = useCorpusStore()
    await corpus.add('english', ['/data/en.txt'])
    await settle()
    expect(statsCalls()).toHaveLength(1)
  })

  it('places an ingest job it did not start in its role by the job\'s labels', () => {
    const corpus = useCorpusStore()
    const jobs = useJobsStore()
    jobs.track(job({ id: 'demo-english', kind: INGEST_JOB, projectDir: PROJECT, state: 'running', labels: { role: 'english' } }))
    jobs.track(job({ id: 'elsewhere', kind: INGEST_JOB, projectDir: '/projects/other', state: 'running', labels: { role: 'target' } }))
    expect(corpus.roleJobs.english?.id).toBe('demo-english')
    expect(corpus.roleJobs.target).toBeNull()
    expect(corpus.ingesting).toEqual({ target: false, english: true })
    expect(corpus.otherActiveJobs).toEqual([])
  })

  it('lists running ingest jobs of the project that name no role', async () => {
    const corpus = useCorpusStore()
    const jobs = useJobsStore()
    jobs.track(job({ id: 'from-before-reload', kind: INGEST_JOB, projectDir: PROJECT, state: 'running' }))
    jobs.track(job({ id: 'other-project', kind: INGEST_JOB, projectDir: '/projects/other', state: 'running' }))
    await corpus.add('target', ['/data/hu.txt'])
    expect(corpus.otherActiveJobs.map((j) => j.id)).toEqual(['from-before-reload'])
  })

  it('sample() asks for documents of a split and returns them', async () => {
    const corpus = useCorpusStore()
    const documents = await corpus.sample('target', 'heldout', 5)
    expect(api.calls).toEqual([{ method: 'corpus.sample', params: { dir: PROJECT, role: 'target', split: 'heldout', n: 5 } }])
    expect(documents).toHaveLength(5)
    expect(documents[0]).toEqual(corpusDocument({ line: 1 }))

    await corpus.sample('english', 'train', 2, 7)
    expect(api.calls.at(-1)).toEqual({ method: 'corpus.sample', params: { dir: PROJECT, role: 'english', split: 'train', n: 2, seed: 7 } })
  })

  it('needs an open project to add or sample', async () => {
    const corpus = useCorpusStore()
    useProjectStore().close()
    await expect(corpus.add('target', ['/x'])).rejects.toThrow('No project is open.')
    await expect(corpus.sample('target')).rejects.toThrow('No project is open.')
    await expect(corpus.load()).resolves.toBeNull()
    expect(api.calls).toEqual([])
  })
})
