/**
 * The jobs a store follows for the open project (the ingest jobs of the corpus, the sweeps and
 * extensions of the vocabulary, the resizes of the base model): the job started from this window,
 * by project folder and kind, the job to show, and a reload of what the store shows once per job
 * of those kinds that finishes with a result. Call it from a store's (or a component's) setup.
 */
import { computed, getCurrentScope, onScopeDispose, shallowRef, type ComputedRef } from 'vue'
import { isJobOf, type JobKind, type JobOf, type JobSnapshot } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'

/** One of several places where jobs of a kind are shown (an ingest job per corpus role). */
export interface JobSlot<J extends JobSnapshot> {
  /** Names the place; `started` is given the same name. */
  name: string
  /** Whether a job this window did not start belongs here (an ingest job whose `labels.role` is the role). */
  holds(job: J): boolean
}

export interface FollowedJobs<K extends JobKind> {
  /** Queued and running jobs of the followed kinds of the open project, newest first. */
  active: ComputedRef<JobOf<K>[]>
  /**
   * The job of `kind` (in `slot`, when the kind has several places) to show: the latest started
   * from here while it runs or no other does, else (after a reload, or when another window started
   * it) the newest active one of the open project. Reads reactive state: call it in a computed.
   */
  shown<Kind extends K>(kind: Kind, slot?: JobSlot<JobOf<Kind>>): JobOf<Kind> | null
  /**
   * Follows a job the engine has just started for `projectDir` at this window's request (in the
   * slot named `slot`): tracks it, shows it, and reloads at once when it is already done (a very
   * short job may be done before its reply arrives, and its event may have been missed).
   */
  started<J extends JobOf<K>>(projectDir: string, job: J, slot?: string): J
}

/**
 * Follows the jobs of `kinds`; `reload` is called once per job of those kinds of the open project
 * that finishes `done` (whether this window started it or not). It should not throw: what it
 * returns is not waited for.
 */
export function useFollowedJobs<K extends JobKind>(kinds: readonly K[], reload: (job: JobOf<K>) => unknown): FollowedJobs<K> {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  /** The latest job started from this window, by project folder and then kind (and slot). */
  const startedIds = shallowRef<Readonly<Record<string, Readonly<Record<string, string>>>>>({})
  /** Jobs whose finish already caused a reload. */
  const reloadedFor = new Set<string>()

  const isFollowed = (job: JobSnapshot | null | undefined): job is JobOf<K> => kinds.some((kind) => isJobOf(job, kind))
  const ofOpenProject = (job: JobSnapshot): boolean => job.projectDir !== null && job.projectDir === projects.currentDir

  const active = computed<JobOf<K>[]>(() => jobs.active.filter((job): job is JobOf<K> => isFollowed(job) && ofOpenProject(job)))

  function shown<Kind extends K>(kind: Kind, slot?: JobSlot<JobOf<Kind>>): JobOf<Kind> | null {
    const dir = projects.currentDir
    if (dir === null) return null
    const others = jobs.active.filter((job): job is JobOf<Kind> => isJobOf(job, kind) && job.projectDir === dir && (slot === undefined || slot.holds(job)))
    const id = startedIds.value[dir]?.[slotKey(kind, slot?.name)]
    if (id !== undefined) {
      const mine = jobs.get(id)
      if (isJobOf(mine, kind) && (!isFinished(mine) || others.length === 0)) return mine
    }
    return others[0] ?? null
  }

  function started<J extends JobOf<K>>(projectDir: string, job: J, slot?: string): J {
    jobs.track(job)
    startedIds.value = { ...startedIds.value, [projectDir]: { ...startedIds.value[projectDir], [slotKey(job.kind, slot)]: job.id } }
    onFinished(jobs.get(job.id) ?? job)
    return job
  }

  function onFinished(job: JobSnapshot): void {
    if (!isFollowed(job) || job.state !== 'done' || reloadedFor.has(job.id) || !ofOpenProject(job)) return
    reloadedFor.add(job.id)
    void reload(job)
  }

  // The jobs store, set up above, has recorded the snapshot by the time this listener hears it.
  const stop = api.onEvent((event) => {
    if (event.type === 'job') onFinished(event.job)
  })
  if (getCurrentScope()) onScopeDispose(stop)

  return { active, shown, started }
}

function slotKey(kind: JobKind, slot: string | undefined): string {
  return slot === undefined ? kind : `${kind}/${slot}`
}
