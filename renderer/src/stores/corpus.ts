/**
 * The corpora of the open project: the engine's profile of each role's text (`corpus.stats`), the
 * ingest jobs started from here (`corpus.add`), and samples of the cleaned text (`corpus.sample`).
 * The profile is reloaded whenever an ingest job of the open project finishes.
 */
import { defineStore } from 'pinia'
import { computed } from 'vue'
import type { CorpusDocument, CorpusRole, IngestOptions, JobOf, RoleStats, Split } from '../../../main/engine/contract'
import { INGEST_JOB, ROLE_VALUES } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useFollowedJobs, type JobSlot } from './followedJobs'
import { isFinished } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'

type PerRole<T> = Record<CorpusRole, T>
type IngestJob = JobOf<typeof INGEST_JOB>

export const useCorpusStore = defineStore('corpus', () => {
  const api = getApi()
  const projects = useProjectStore()

  /** The engine's profile of the open project's text. */
  const profile = useProjectResource((dir) => api.call('corpus.stats', { dir }))
  /** Asks the engine for the open project's profile. Failures are kept in `loadError`, not thrown. */
  const load = profile.load
  /** The profile is reloaded once per ingest job of the open project that finishes with new text. */
  const followed = useFollowedJobs([INGEST_JOB], load)

  /** The open project's profile; null until it has been loaded. */
  const stats = profile.value
  const loading = profile.loading
  const loadError = profile.loadError
  /** Each role's profile; null while the role has no text (or nothing is loaded yet). */
  const roles = computed<PerRole<RoleStats | null>>(() => perRole((role) => stats.value?.roles.find((r) => r.role === role) ?? null))
  /**
   * Each role's ingest job: the latest started from here, else (after a reload, or when another
   * window or the demo started it) the newest active one whose `labels.role` names the role.
   */
  const roleJobs = computed<PerRole<IngestJob | null>>(() => perRole((role) => followed.shown(INGEST_JOB, roleSlot(role))))
  const ingesting = computed<PerRole<boolean>>(() => perRole((role) => isActive(roleJobs.value[role])))
  /** Active ingest jobs of the open project that belong to neither role's panel. */
  const otherActiveJobs = computed<IngestJob[]>(() => {
    const known = new Set(ROLE_VALUES.map((role) => roleJobs.value[role]?.id))
    return followed.active.value.filter((job) => !known.has(job.id))
  })

  /** Starts ingesting `paths` into the role's corpus; the engine answers at once with the job. */
  async function add(role: CorpusRole, paths: string[], options?: Partial<IngestOptions>): Promise<IngestJob> {
    const dir = requireProjectDir()
    const { job } = await api.call('corpus.add', options === undefined ? { dir, role, paths } : { dir, role, paths, options })
    return followed.started(dir, job, role)
  }

  /** Documents drawn from the role's cleaned text (held-out by default), with where each came from. */
  async function sample(role: CorpusRole, split: Split = 'heldout', n = 5, seed?: number): Promise<CorpusDocument[]> {
    const dir = requireProjectDir()
    const { documents } = await api.call('corpus.sample', seed === undefined ? { dir, role, split, n } : { dir, role, split, n, seed })
    return documents
  }

  function requireProjectDir(): string {
    const dir = projects.currentDir
    if (dir === null) throw new Error('No project is open.')
    return dir
  }

  return { stats, loading, loadError, roles, roleJobs, ingesting, otherActiveJobs, load, add, sample }
})

function perRole<T>(value: (role: CorpusRole) => T): PerRole<T> {
  return { target: value('target'), english: value('english') }
}

/** A role's place for ingest jobs: those started from here for it, and those whose `labels.role` names it. */
function roleSlot(role: CorpusRole): JobSlot<IngestJob> {
  return { name: role, holds: (job) => job.labels.role === role }
}

function isActive(job: IngestJob | null): boolean {
  return job !== null && !isFinished(job)
}
