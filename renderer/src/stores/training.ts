/**
 * Training runs of the open project: every run's status (`train.runs`), the metrics of the run
 * shown (`train.metrics`, one line per optimizer step), the `train` job that follows a run's worker,
 * and the actions on runs (`train.start`, `train.pause`, `train.cancel`, `train.pin`), with the
 * project's planned replay share and training settings (`project.setTraining`).
 *
 * The run shown is the one chosen, else the run of the `train` job shown (see `useFollowedJobs`:
 * after a page reload, the project's active train job), else the newest run. While its job runs,
 * every new step it reports reloads the run's status and metrics (at most one reload at a time);
 * a run marked `running` that no job here follows (the CLI, another window) is polled instead.
 */
import { defineStore } from 'pinia'
import { computed, shallowRef, watch } from 'vue'
import {
  isJobOf,
  TRAIN_JOB,
  type JobOf,
  type ProjectSummary,
  type RunStatus,
  type StepMetrics,
  type TrainingSettings,
} from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { describeError, type DisplayError } from '../errors'
import { useFollowedJobs } from './followedJobs'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

export type TrainJob = JobOf<typeof TRAIN_JOB>

/** How often a run another process trains is asked about (ms). */
export const POLL_MS = 2000
/** How many of the train job's progress messages the log keeps. */
export const LOG_LIMIT = 200

export const useTrainingStore = defineStore('training', () => {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  /** Every run of the open project; null until loaded. */
  const runsResource = useProjectResource((dir) => api.call('train.runs', { dir }))
  const runs = computed<RunStatus[]>(() => runsResource.value.value ?? [])
  const runsLoaded = computed(() => runsResource.value.value !== null)

  /** A train job that finishes with a result (done, paused or cancelled) reloads the runs and the shown run. */
  const followed = useFollowedJobs([TRAIN_JOB], () => {
    void runsResource.load()
    void refreshShown()
  })
  /**
   * The train job to show: the one `FollowedJobs.shown` picks while it is active, and afterwards the
   * last one it picked (so that a job another window started still shows how it ended).
   */
  const lastShown = shallowRef<{ projectDir: string; id: string } | null>(null)
  watch(
    () => followed.shown(TRAIN_JOB),
    (job) => {
      if (job?.projectDir) lastShown.value = { projectDir: job.projectDir, id: job.id }
    },
    { immediate: true, flush: 'sync' },
  )
  const trainJob = computed<TrainJob | null>(() => {
    const shown = followed.shown(TRAIN_JOB)
    if (shown) return shown
    const last = lastShown.value
    if (last === null || last.projectDir !== projects.currentDir) return null
    const known = jobs.get(last.id)
    return isJobOf(known, TRAIN_JOB) ? known : null
  })
  const jobActive = computed(() => trainJob.value !== null && !isFinished(trainJob.value))

  // Which run is shown.
  const chosen = shallowRef<{ projectDir: string; name: string } | null>(null)
  const shownName = computed<string | null>(() => {
    const dir = projects.currentDir
    if (dir === null) return null
    if (chosen.value?.projectDir === dir) return chosen.value.name
    if (trainJob.value) return trainJob.value.labels.run
    return runs.value.at(-1)?.name ?? null
  })
  /** The shown run's status; null while it is not known (before the runs load, or a run just started). */
  const run = computed<RunStatus | null>(() => runs.value.find((r) => r.name === shownName.value) ?? null)
  /** The train job of the shown run, while it is active or when it is the latest one for it. */
  const runJob = computed<TrainJob | null>(() => (trainJob.value && trainJob.value.labels.run === shownName.value ? trainJob.value : null))
  /** Whether the shown run's worker is training now (a job here follows it, or the engine says it is running). */
  const training = computed(() => (runJob.value !== null && !isFinished(runJob.value)) || run.value?.state === 'running')

  // The shown run's metrics.
  const metricsState = shallowRef<{ projectDir: string; name: string; metrics: StepMetrics[] } | null>(null)
  const metrics = computed<StepMetrics[]>(() => {
    const m = metricsState.value
    return m !== null && m.projectDir === projects.currentDir && m.name === shownName.value ? m.metrics : []
  })
  const runErrorState = shallowRef<{ projectDir: string; name: string; error: DisplayError } | null>(null)
  /** Why the shown run's status or metrics could not be read, if they could not. */
  const runError = computed<DisplayError | null>(() => {
    const e = runErrorState.value
    return e !== null && e.projectDir === projects.currentDir && e.name === shownName.value ? e.error : null
  })

  /** Reads the shown run's status and metrics (the run's status replaces its entry in `runs`). */
  async function loadShown(): Promise<void> {
    const projectDir = projects.currentDir
    const name = shownName.value
    if (projectDir === null || name === null) return
    try {
      const [status, lines] = await Promise.all([api.call('train.status', { dir: projectDir, run: name }), api.call('train.metrics', { dir: projectDir, run: name })])
      if (projects.currentDir !== projectDir) return
      metricsState.value = { projectDir, name, metrics: lines }
      const known = runsResource.value.value
      if (known !== null) runsResource.set(projectDir, known.some((r) => r.name === name) ? known.map((r) => (r.name === name ? status : r)) : [...known, status])
      if (runErrorState.value?.projectDir === projectDir && runErrorState.value.name === name) runErrorState.value = null
    } catch (error) {
      if (projects.currentDir === projectDir) runErrorState.value = { projectDir, name, error: describeError(error) }
    }
  }

  /** `loadShown`, at most one at a time: a request while one runs makes one more run after it. */
  let inFlight: Promise<void> | null = null
  let again = false
  function refreshShown(): Promise<void> {
    if (inFlight) {
      again = true
      return inFlight
    }
    inFlight = (async () => {
      try {
        do {
          again = false
          await loadShown()
        } while (again)
      } finally {
        inFlight = null
      }
    })()
    return inFlight
  }

  /** Loads the runs, then the shown run's status and metrics. Failures are kept to show, not thrown. */
  async function load(): Promise<void> {
    await runsResource.load()
    await refreshShown()
  }

  // Another run shown: read its metrics.
  watch([() => projects.currentDir, shownName], ([dir, name]) => {
    if (dir !== null && name !== null && runsLoaded.value) void refreshShown()
  })
  // Every new step (or state) of the shown run's job: read the run again.
  watch(
    () => {
      const job = runJob.value
      return job ? `${job.id}/${job.state}/${job.progress.metrics?.step ?? ''}` : null
    },
    (key, before) => {
      if (key !== null && key !== before) void refreshShown()
    },
  )
  // A job that failed or was cancelled reloads no result: the runs are read again here.
  watch(
    () => (trainJob.value && isFinished(trainJob.value) && trainJob.value.state !== 'done' ? trainJob.value.id : null),
    (id) => {
      if (id !== null) void runsResource.load()
    },
  )
  // A run another process trains (no job here follows it) is asked about every few seconds.
  watch(
    () => run.value?.state === 'running' && !jobActive.value,
    (poll, _before, onCleanup) => {
      if (!poll) return
      const timer = setInterval(() => void refreshShown(), POLL_MS)
      onCleanup(() => clearInterval(timer))
    },
  )

  // The progress messages of the shown job, as they arrive (its whole log is in `logFile`).
  const logState = shallowRef<{ jobId: string; lines: string[] } | null>(null)
  watch(
    () => (trainJob.value ? ([trainJob.value.id, trainJob.value.progress.message] as const) : null),
    (now) => {
      if (now === null) return
      const [jobId, message] = now
      const known = logState.value?.jobId === jobId ? logState.value.lines : []
      if (message === '' || known.at(-1) === message) {
        if (logState.value?.jobId !== jobId) logState.value = { jobId, lines: known }
        return
      }
      logState.value = { jobId, lines: [...known, message].slice(-LOG_LIMIT) }
    },
    { immediate: true },
  )
  const log = computed<string[]>(() => (logState.value !== null && logState.value.jobId === trainJob.value?.id ? logState.value.lines : []))

  /** Shows another run (from the history). */
  function show(name: string): void {
    const projectDir = requireProjectDir()
    chosen.value = { projectDir, name }
  }

  /** Saves the planned English replay share (0 … 1) in the project's manifest. */
  async function saveReplay(englishShare: number): Promise<ProjectSummary> {
    return setTraining({ replay: { englishShare } })
  }

  /** Saves planned training settings (the fields given) in the project's manifest. */
  async function saveSettings(training: Partial<TrainingSettings>): Promise<ProjectSummary> {
    return setTraining({ training })
  }

  async function setTraining(patch: { replay?: { englishShare: number }; training?: Partial<TrainingSettings> }): Promise<ProjectSummary> {
    const dir = requireProjectDir()
    const summary = await api.call('project.setTraining', { dir, ...patch })
    if (projects.current?.dir === summary.dir) projects.current = summary
    return summary
  }

  /**
   * Starts the run `name` with the project's planned settings, after saving `settings` as the plan
   * when they are given; the engine answers at once with the job, which the step then shows.
   */
  async function start(name: string, settings?: Partial<TrainingSettings>): Promise<TrainJob> {
    const dir = requireProjectDir()
    if (settings && Object.keys(settings).length > 0) await saveSettings(settings)
    const { job } = await api.call('train.start', { dir, run: name })
    return begin(dir, name, job)
  }

  /** Continues a paused, interrupted or failed run from its newest checkpoint, with its own settings. */
  async function resume(name: string): Promise<TrainJob> {
    const dir = requireProjectDir()
    const { job } = await api.call('train.start', { dir, run: name, resume: true })
    return begin(dir, name, job)
  }

  function begin(dir: string, name: string, job: TrainJob): TrainJob {
    chosen.value = { projectDir: dir, name }
    const shown = followed.started(dir, job)
    void load()
    return shown
  }

  /** Asks the run's worker to write a checkpoint and pause after its step; the job then ends. */
  async function pause(name: string): Promise<RunStatus> {
    return stop('train.pause', name)
  }

  /** Asks the run's worker to write a checkpoint and stop for good (a paused run is marked cancelled at once). */
  async function cancel(name: string): Promise<RunStatus> {
    return stop('train.cancel', name)
  }

  const stopping = shallowRef<{ projectDir: string; name: string; request: 'pause' | 'cancel'; jobId: string | null } | null>(null)
  /** A pause or cancel asked for the shown run that its worker has not acted on yet. */
  const stopRequest = computed<'pause' | 'cancel' | null>(() => {
    const s = stopping.value
    if (s === null || s.projectDir !== projects.currentDir || s.name !== shownName.value) return null
    if (!training.value) return null
    if (s.jobId !== null && runJob.value?.id !== s.jobId) return null
    return s.request
  })

  async function stop(method: 'train.pause' | 'train.cancel', name: string): Promise<RunStatus> {
    const dir = requireProjectDir()
    const status = await api.call(method, { dir, run: name })
    stopping.value = { projectDir: dir, name, request: method === 'train.pause' ? 'pause' : 'cancel', jobId: runJob.value?.id ?? null }
    replaceRun(dir, status)
    return status
  }

  /** Keeps a checkpoint whatever `keepCheckpoints` says, or stops keeping it. */
  async function pin(name: string, step: number, pinned: boolean): Promise<RunStatus> {
    const dir = requireProjectDir()
    const status = await api.call('train.pin', { dir, run: name, step, pinned })
    replaceRun(dir, status)
    return status
  }

  function replaceRun(dir: string, status: RunStatus): void {
    const known = runsResource.value.value
    if (known === null || projects.currentDir !== dir) return
    runsResource.set(dir, known.some((r) => r.name === status.name) ? known.map((r) => (r.name === status.name ? status : r)) : [...known, status])
  }

  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return {
    runs,
    runsLoaded,
    loading: runsResource.loading,
    loadError: runsResource.loadError,
    trainJob,
    runJob,
    shownName,
    run,
    training,
    metrics,
    runError,
    log,
    stopRequest,
    load,
    refreshShown,
    show,
    saveReplay,
    saveSettings,
    start,
    resume,
    pause,
    cancel,
    pin,
  }
})
