import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { JobType } from '../../../main/engine/contract'
import { EngineError } from '../../../main/engine/common/errors'
import { JobManager, projectLogDir, type SnapshotOf } from '../../../main/engine/jobs/manager'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms))

describe('JobManager', () => {
  it('runs a job to done with progress, result and a log file in the project', async () => {
    const projectDir = tmp()
    const jobs = new JobManager({ logDir: tmp(), progressIntervalMs: 0 })
    const seen: SnapshotOf<Record<string, JobType>>[] = []
    jobs.onChange((j) => seen.push(j))
    const first = jobs.start({
      kind: 'count',
      title: 'Counting',
      projectDir,
      run: async (ctx) => {
        for (let i = 1; i <= 4; i++) {
          await tick()
          ctx.progress({ done: i, total: 4, message: `step ${i}` })
        }
        ctx.log('all counted')
        return { counted: 4 }
      },
    })
    expect(first.state).toBe('queued')
    const final = await jobs.wait(first.id)
    expect(final).toMatchObject({ state: 'done', result: { counted: 4 }, error: null, progress: { fraction: 1, etaSeconds: null } })
    expect(seen.map((s) => s.state)).toEqual(expect.arrayContaining(['queued', 'running', 'done']))
    const revisions = seen.map((s) => s.revision)
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b))
    expect(new Set(revisions).size).toBe(revisions.length)
    const fractions = seen.filter((s) => s.state === 'running' && s.progress.fraction !== null).map((s) => s.progress.fraction)
    expect(fractions).toEqual([0.25, 0.5, 0.75, 1])
    expect(final.logFile).toBe(join(projectLogDir(projectDir), `${first.id}.log`))
    const log = await fs.readFile(final.logFile as string, 'utf8')
    expect(log).toContain('started: Counting')
    expect(log).toContain('all counted')
    expect(log).toMatch(/job done\n$/)
  })

  it('marks a crashing job failed with its error and keeps running others', async () => {
    const jobs = new JobManager({ logDir: tmp() })
    const bad = jobs.start({
      kind: 'crash',
      title: 'Crash',
      run: async () => {
        throw new EngineError('corrupt-manifest', 'the input is damaged', { hint: 'fix it' })
      },
    })
    const good = jobs.start({ kind: 'ok', title: 'Fine', run: async () => 42 })
    const [b, g] = await Promise.all([jobs.wait(bad.id), jobs.wait(good.id)])
    expect(b).toMatchObject({ state: 'failed', error: { code: 'corrupt-manifest', message: 'the input is damaged', hint: 'fix it' } })
    expect(g).toMatchObject({ state: 'done', result: 42 })
    expect(await fs.readFile(b.logFile as string, 'utf8')).toContain('error: EngineError: the input is damaged')
  })

  it('turns an unexpected exception into an internal error', async () => {
    const jobs = new JobManager({ logDir: tmp() })
    const j = jobs.start({ kind: 'bug', title: 'Bug', run: async () => (null as unknown as { x: number }).x })
    const final = await jobs.wait(j.id)
    expect(final.state).toBe('failed')
    expect(final.error?.code).toBe('internal')
  })

  it('cancels a running job through its signal', async () => {
    const jobs = new JobManager({ logDir: tmp() })
    let iterations = 0
    const j = jobs.start({
      kind: 'loop',
      title: 'Loop',
      run: async (ctx) => {
        for (;;) {
          ctx.throwIfCancelled()
          iterations++
          await tick(2)
        }
      },
    })
    await tick(30)
    expect(jobs.cancel(j.id).state).toBe('running') // cancellation is asynchronous
    const final = await jobs.wait(j.id)
    expect(final.state).toBe('cancelled')
    const after = iterations
    await tick(20)
    expect(iterations).toBe(after)
  })

  it('ignores a cancel that comes after the job committed to saving, and refuses to commit once cancelled', async () => {
    const jobs = new JobManager({ logDir: tmp() })
    let saved = false
    const late = jobs.start({
      kind: 'save',
      title: 'Save',
      run: async (ctx) => {
        await tick(10)
        ctx.commit!()
        await tick(30) // the cancel arrives while saving
        saved = true
        return 'saved'
      },
    })
    await tick(20)
    jobs.cancel(late.id)
    const final = await jobs.wait(late.id)
    expect(saved).toBe(true)
    expect(final).toMatchObject({ state: 'done', result: 'saved' })

    let wrote = false
    const early = jobs.start({
      kind: 'save',
      title: 'Save',
      run: async (ctx) => {
        await tick(30)
        ctx.commit!()
        wrote = true
      },
    })
    await tick(5)
    jobs.cancel(early.id)
    expect((await jobs.wait(early.id)).state).toBe('cancelled')
    expect(wrote).toBe(false)
  })

  it('queues beyond its concurrency and cancels queued jobs at once', async () => {
    const jobs = new JobManager({ logDir: tmp(), concurrency: 1 })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const a = jobs.start({ kind: 'a', title: 'A', run: () => gate })
    const b = jobs.start({ kind: 'b', title: 'B', run: async () => 'b' })
    const c = jobs.start({ kind: 'c', title: 'C', run: async () => 'c' })
    await tick()
    expect(jobs.get(a.id).state).toBe('running')
    expect(jobs.get(b.id).state).toBe('queued')
    expect(jobs.cancel(c.id).state).toBe('cancelled')
    release()
    expect((await jobs.wait(b.id)).result).toBe('b')
    expect((await jobs.wait(c.id)).state).toBe('cancelled')
    expect(jobs.list().map((j) => j.state)).toEqual(['done', 'done', 'cancelled'])
  })

  it('throttles progress notifications but always delivers the last one', async () => {
    const jobs = new JobManager({ logDir: tmp(), progressIntervalMs: 50 })
    const seen: number[] = []
    jobs.onChange((j) => j.state === 'running' && j.progress.fraction !== null && seen.push(j.progress.fraction))
    const j = jobs.start({
      kind: 'fast',
      title: 'Fast',
      run: async (ctx) => {
        for (let i = 1; i <= 1000; i++) ctx.progress({ fraction: i / 1000 })
        await tick(120)
      },
    })
    await jobs.wait(j.id)
    expect(seen.length).toBeLessThan(5)
    expect(seen.at(-1)).toBe(1)
  })

  it('gives an ETA once progress has a rate', async () => {
    let now = 0
    const jobs = new JobManager({ logDir: tmp(), progressIntervalMs: 0, now: () => now })
    const etas: (number | null)[] = []
    jobs.onChange((j) => j.state === 'running' && etas.push(j.progress.etaSeconds))
    const j = jobs.start({
      kind: 'steady',
      title: 'Steady',
      run: async (ctx) => {
        for (let i = 1; i <= 5; i++) {
          now += 2000
          ctx.progress({ fraction: i / 10 })
        }
      },
    })
    await jobs.wait(j.id)
    // 10% every 2 s: the last update at 50% leaves 10 s.
    expect(etas.at(-1)).toBeCloseTo(10, 5)
  })

  it('says which id is unknown', () => {
    const jobs = new JobManager({ logDir: tmp() })
    expect(() => jobs.get('nope')).toThrow(/no job with id nope/)
  })

  it('a job cancelled while it starts never runs', async () => {
    const jobs = new JobManager({ logDir: tmp() })
    let ran = false
    const j = jobs.start({ kind: 'x', title: 'X', run: async () => void (ran = true) })
    await Promise.resolve() // the job is now starting (opening its log)
    jobs.cancel(j.id)
    expect((await jobs.wait(j.id)).state).toBe('cancelled')
    expect(ran).toBe(false)
  })

  it('shutdown cancels everything and waits', async () => {
    const jobs = new JobManager({ logDir: tmp() })
    const j = jobs.start({ kind: 'wait', title: 'Wait', run: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))) })
    await tick()
    await jobs.shutdown()
    expect(jobs.get(j.id).state).toBe('cancelled')
  })
})

describe('JobManager labels', () => {
  it('carries the labels a job was started with in every snapshot, as copies', async () => {
    const jobs = new JobManager({ logDir: tmp() })
    const labels = { role: 'english' }
    const j = jobs.start({ kind: 'ingest', title: 'I', labels, run: async () => 1 })
    labels.role = 'changed'
    expect(j.labels).toEqual({ role: 'english' })
    expect((await jobs.wait(j.id)).labels).toEqual({ role: 'english' })
  })
})
