import { randomBytes } from 'node:crypto'
import { createWriteStream, promises as fs, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import type { JobProgress, JobSnapshotOf, JobState, JobType } from '../contract'
import { EngineError, toErrorInfo } from '../common/errors'
import { EtaEstimator } from './eta'

/**
 * Long work runs as a job: an id, a state (queued → running → done | failed | cancelled),
 * progress with an ETA, cancellation through an AbortSignal, and a log file. Listeners see every
 * change (progress is throttled); a job that throws is marked failed with its error and nothing
 * else is disturbed.
 */

export interface ProgressUpdate {
  /** 0 … 1; or give `done` and `total`. */
  fraction?: number
  done?: number
  total?: number
  message?: string
  /** Numbers to show with the progress (they replace the previous ones). */
  metrics?: Readonly<Record<string, number | null>>
}

export interface JobContext {
  readonly id: string
  readonly signal: AbortSignal
  progress(update: ProgressUpdate): void
  log(line: string): void
  /** Throws a `cancelled` error if the job was cancelled; call it between units of work. */
  throwIfCancelled(): void
  /**
   * Marks the point of no return: throws a `cancelled` error if the job was cancelled, and
   * otherwise ignores later cancels, so that a job whose output is being saved ends `done`
   * with its output rather than `cancelled` with it. Call it just before saving.
   */
  commit?(): void
}

/** Job kinds with their result and label types (the engine's are the contract's `JobTypes`). */
export type JobTypeMap<T> = { [K in keyof T]: JobType }

/** Any job of a manager over `T`, narrowed by `kind`. */
export type SnapshotOf<T extends JobTypeMap<T>> = { [K in keyof T & string]: JobSnapshotOf<K, T[K]['result'], T[K]['labels']> }[keyof T & string]

export interface JobSpec<T extends JobTypeMap<T>, K extends keyof T & string> {
  kind: K
  title: string
  projectDir?: string | null
  labels?: T[K]['labels']
  run: (ctx: JobContext) => Promise<T[K]['result']>
}

/** What the manager keeps of any job, whatever its kind. */
type AnySnapshot = JobSnapshotOf<string, unknown, Readonly<Record<string, string | undefined>>>

/** The manager's default: any kind, any result (tests and tools). */
type LooseJobs = Record<string, JobType>

export interface JobManagerOptions {
  /** Where logs of jobs without a project go. */
  logDir: string
  /** Jobs that may run at once; the rest wait in the queue. */
  concurrency?: number
  /** Minimum milliseconds between two progress notifications of one job. */
  progressIntervalMs?: number
  now?: () => number
}

interface JobRecord {
  snapshot: AnySnapshot
  run: (ctx: JobContext) => Promise<unknown>
  controller: AbortController
  eta: EtaEstimator
  lastEmit: number
  pendingEmit: NodeJS.Timeout | null
  log: WriteStream | null
  lastLoggedMessage: string
  lastLogAt: number
  done: Promise<AnySnapshot>
  resolveDone: (s: AnySnapshot) => void
  /** Past `ctx.commit()`: a cancel comes too late and is ignored. */
  committed?: boolean
}

export function projectLogDir(projectDir: string): string {
  return join(projectDir, 'logs', 'jobs')
}

/**
 * Runs the jobs of the kinds in `T`. Snapshots are typed by kind: `start({kind: 'ingest', …})`
 * returns an ingest job whose `result` is the contract's `RoleStats`.
 */
export class JobManager<T extends JobTypeMap<T> = LooseJobs> {
  private readonly jobs = new Map<string, JobRecord>()
  private readonly queue: string[] = []
  private running = 0
  private readonly listeners = new Set<(job: SnapshotOf<T>) => void>()
  private readonly concurrency: number
  private readonly interval: number
  private readonly now: () => number

  constructor(private readonly opts: JobManagerOptions) {
    this.concurrency = opts.concurrency ?? 2
    this.interval = opts.progressIntervalMs ?? 100
    this.now = opts.now ?? Date.now
  }

  onChange(listener: (job: SnapshotOf<T>) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Queues a job and returns its first snapshot at once. */
  start<K extends keyof T & string>(spec: JobSpec<T, K>): JobSnapshotOf<K, T[K]['result'], T[K]['labels']> {
    const stamp = new Date(this.now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')
    const id = `${spec.kind}-${stamp}-${randomBytes(3).toString('hex')}`
    let resolveDone!: (s: AnySnapshot) => void
    const done = new Promise<AnySnapshot>((r) => (resolveDone = r))
    const logDir = spec.projectDir ? projectLogDir(spec.projectDir) : this.opts.logDir
    const record: JobRecord = {
      snapshot: {
        id,
        revision: 0,
        kind: spec.kind,
        title: spec.title,
        projectDir: spec.projectDir ?? null,
        labels: { ...spec.labels },
        state: 'queued',
        progress: { fraction: null, message: 'Waiting to start…', etaSeconds: null },
        createdAt: new Date(this.now()).toISOString(),
        startedAt: null,
        finishedAt: null,
        error: null,
        result: null,
        logFile: join(logDir, `${id}.log`),
      },
      run: spec.run,
      controller: new AbortController(),
      eta: new EtaEstimator(),
      lastEmit: 0,
      pendingEmit: null,
      log: null,
      lastLoggedMessage: '',
      lastLogAt: 0,
      done,
      resolveDone,
    }
    this.jobs.set(id, record)
    this.queue.push(id)
    this.emit(record, true)
    // Start on the next microtask, so that the caller always gets (and can announce) the queued job first.
    queueMicrotask(() => this.pump())
    return this.copy(record.snapshot) as JobSnapshotOf<K, T[K]['result'], T[K]['labels']>
  }

  get(id: string): SnapshotOf<T> {
    return this.copy(this.record(id).snapshot)
  }

  list(filter: { projectDir?: string } = {}): SnapshotOf<T>[] {
    return [...this.jobs.values()]
      .map((r) => r.snapshot)
      .filter((s) => filter.projectDir === undefined || s.projectDir === filter.projectDir)
      .map((s) => this.copy(s))
  }

  /** Resolves with the final snapshot once the job has ended. */
  wait(id: string): Promise<SnapshotOf<T>> {
    return this.record(id).done.then((s) => this.copy(s))
  }

  /** Resolves with the final snapshot of a job this manager started, typed by its kind. */
  waitFor<K extends keyof T & string>(job: JobSnapshotOf<K, T[K]['result'], T[K]['labels']>): Promise<JobSnapshotOf<K, T[K]['result'], T[K]['labels']>> {
    return this.wait(job.id) as Promise<JobSnapshotOf<K, T[K]['result'], T[K]['labels']>>
  }

  cancel(id: string): SnapshotOf<T> {
    const record = this.record(id)
    const s = record.snapshot
    if (s.state === 'queued') {
      const i = this.queue.indexOf(id)
      if (i >= 0) this.queue.splice(i, 1)
      this.finish(record, 'cancelled', { message: 'Cancelled before it started.' })
    } else if (s.state === 'running' && !record.committed) {
      record.controller.abort()
      this.setProgress(record, { message: 'Cancelling…' }, true)
    }
    return this.copy(record.snapshot)
  }

  /** Cancels everything still queued or running and waits for it to end. */
  async shutdown(): Promise<void> {
    const open = [...this.jobs.values()].filter((r) => r.snapshot.state === 'queued' || r.snapshot.state === 'running')
    for (const r of open) this.cancel(r.snapshot.id)
    await Promise.all(open.map((r) => r.done))
  }

  private record(id: string): JobRecord {
    const r = this.jobs.get(id)
    if (!r) throw new EngineError('not-found', `There is no job with id ${id} in this session.`, { hint: 'Jobs are listed by jobs.list; their logs stay in the project folder.' })
    return r
  }

  /**
   * A copy for callers. Records keep every kind alike; a record's kind, labels and result are the
   * ones its `start` was typed with, so the copy has the type of its kind.
   */
  private copy(s: AnySnapshot): SnapshotOf<T> {
    return { ...s, labels: { ...s.labels }, progress: { ...s.progress }, error: s.error ? { ...s.error } : null } as SnapshotOf<T>
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string
      const record = this.jobs.get(id)
      if (!record || record.snapshot.state !== 'queued') continue
      this.running++
      void this.execute(record).finally(() => {
        this.running--
        this.pump()
      })
    }
  }

  private async execute(record: JobRecord): Promise<void> {
    const s = record.snapshot
    s.state = 'running'
    s.revision++
    s.startedAt = new Date(this.now()).toISOString()
    s.progress = { fraction: null, message: 'Starting…', etaSeconds: null }
    await this.openLog(record)
    this.writeLog(record, `job ${s.id} (${s.kind}) started: ${s.title}`)
    this.emit(record, true)
    const ctx: JobContext = {
      id: s.id,
      signal: record.controller.signal,
      progress: (u) => this.setProgress(record, u, false),
      log: (line) => this.writeLog(record, line),
      throwIfCancelled: () => {
        if (record.controller.signal.aborted) throw new EngineError('cancelled', `${s.title} was cancelled.`)
      },
      commit: () => {
        ctx.throwIfCancelled()
        record.committed = true
        this.writeLog(record, 'saving its output: a cancel from now on comes too late')
      },
    }
    try {
      // Cancelled while starting up: do not start the work at all.
      ctx.throwIfCancelled()
      const result = await record.run(ctx)
      if (record.controller.signal.aborted) this.finish(record, 'cancelled', { message: 'Cancelled.' })
      else this.finish(record, 'done', { message: 'Done.', result })
    } catch (e) {
      if (record.controller.signal.aborted || (e instanceof EngineError && e.code === 'cancelled')) {
        this.finish(record, 'cancelled', { message: 'Cancelled.' })
      } else {
        this.writeLog(record, `error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
        this.finish(record, 'failed', { message: 'Failed.', error: e })
      }
    }
  }

  private setProgress(record: JobRecord, u: ProgressUpdate, force: boolean): void {
    const s = record.snapshot
    if (s.state !== 'running') return
    let fraction = u.fraction ?? (u.done !== undefined && u.total ? u.done / u.total : undefined)
    if (fraction !== undefined) fraction = Math.min(1, Math.max(0, fraction))
    const progress: JobProgress = {
      fraction: fraction ?? s.progress.fraction,
      message: u.message ?? s.progress.message,
      etaSeconds: fraction !== undefined ? record.eta.update(fraction, this.now()) : s.progress.etaSeconds,
      ...((u.metrics ?? s.progress.metrics) ? { metrics: { ...(u.metrics ?? s.progress.metrics) } } : {}),
    }
    s.progress = progress
    s.revision++
    if (progress.message !== record.lastLoggedMessage && this.now() - record.lastLogAt > 1000) {
      record.lastLoggedMessage = progress.message
      record.lastLogAt = this.now()
      this.writeLog(record, `${fraction !== undefined ? `${(fraction * 100).toFixed(1)}% ` : ''}${progress.message}`)
    }
    this.emit(record, force)
  }

  private finish(record: JobRecord, state: Exclude<JobState, 'queued' | 'running'>, how: { message: string; result?: unknown; error?: unknown }): void {
    const s = record.snapshot
    s.state = state
    s.revision++
    s.finishedAt = new Date(this.now()).toISOString()
    s.progress = { fraction: state === 'done' ? 1 : s.progress.fraction, message: how.message, etaSeconds: null }
    if (how.result !== undefined) s.result = how.result
    if (how.error !== undefined) {
      const info = toErrorInfo(how.error)
      s.error = { code: info.code, message: info.message, ...(info.hint !== undefined ? { hint: info.hint } : {}) }
    }
    this.writeLog(record, `job ${state}${s.error ? `: ${s.error.message}` : ''}`)
    const log = record.log
    record.log = null
    this.emit(record, true)
    const final = this.copy(s)
    // Resolve waiters only once the log is on disk, so that whoever waits can read it whole.
    if (log) log.end(() => record.resolveDone(final))
    else record.resolveDone(final)
  }

  private async openLog(record: JobRecord): Promise<void> {
    const file = record.snapshot.logFile
    if (!file) return
    try {
      await fs.mkdir(join(file, '..'), { recursive: true })
      const stream = createWriteStream(file, { flags: 'a' })
      stream.on('error', () => {
        // A log that cannot be written must not fail the job: drop the log instead.
        record.log = null
        record.snapshot.logFile = null
      })
      record.log = stream
    } catch {
      record.snapshot.logFile = null
    }
  }

  private writeLog(record: JobRecord, line: string): void {
    record.log?.write(`${new Date(this.now()).toISOString()} ${line}\n`)
  }

  private emit(record: JobRecord, force: boolean): void {
    const now = this.now()
    if (!force && now - record.lastEmit < this.interval) {
      if (!record.pendingEmit) {
        record.pendingEmit = setTimeout(() => {
          record.pendingEmit = null
          this.emit(record, true)
        }, this.interval - (now - record.lastEmit))
        record.pendingEmit.unref()
      }
      return
    }
    if (record.pendingEmit) {
      clearTimeout(record.pendingEmit)
      record.pendingEmit = null
    }
    record.lastEmit = now
    const snap = this.copy(record.snapshot)
    for (const l of this.listeners) {
      try {
        l(snap)
      } catch {
        // A faulty listener must not break the job.
      }
    }
  }
}
