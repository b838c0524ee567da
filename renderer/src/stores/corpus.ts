/**
 * The corpora of the open project: the engine's profile of each role's text (`corpus.stats`), the
 * ingest jobs started from here (`corpus.add`), and samples of the cleaned text (`corpus.sample`).
 * The profile is reloaded whenever an ingest job of the open project finishes.
 */
import { defineStore } from 'pinia'
import { computed, shallowRef } from 'vue'
import type { CorpusDocument, CorpusRole, IngestOptions, JobSnapshot, RoleStats, Split } from '../../../main/engine/contract'
import { INGEST_JOB, ROLE_VALUES } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { isFinished, useJobsStore } from './jobs'
import { useProjectStore } from './project'
import { useProjectResource } from './projectResource'


type PerRole<T> = Record<CorpusRole, T>

export const useCorpusStore = defineStore('corpus', () => {
  const api = getApi()
  const jobs = useJobsStore()
  const projects = useProjectStore()

  /** The engine's profile of the open project's text. */
  const profile = useProjectResource((dir) => api.call('corpus.stats', { dir }))
  /** The latest ingest job started from this window, by project folder and role. */
  const jobIds = shallowRef<Readonly<Record<string, Partial<PerRole<string>>>>>({})
  /** Ingest jobs whose finish already caused a reload. */
  const reloadedFor = new Set<string>()

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
  const roleJobs = computed<PerRole<JobSnapshot | null>>(() => {
    const ids = projects.currentDir === null ? undefined : jobIds.value[projects.currentDir]
    return perRole((role) => {
      const id = ids?.[role]
      if (id !== undefined) {
        const mine = jobs.get(id)
        if (mine && (isActive(mine) || !jobs.active.some((j) => isIngestFor(j, role)))) return mine
      }
      return jobs.active.find((j) => isIngestFor(j, role)) ?? null
    })
  })

  function isIngestFor(job: JobSnapshot, role: CorpusRole): boolean {
    return job.kind === INGEST_JOB && job.projectDir !== null && job.projectDir === projects.currentDir && job.labels.role === role
  }
  const ingesting = computed<PerRole<boolean>>(() => perRole((role) => isActive(roleJobs.value[role])))
  /** Active ingest jobs of the open project that belong to neither role's panel. */
  const otherActiveJobs = computed<JobSnapshot[]>(() => {
    const known = new Set(ROLE_VALUES.map((role) => roleJobs.value[role]?.id))
    return jobs.active.filter((job) => job.kind === INGEST_JOB && job.projectDir !== null && job.projectDir === projects.currentDir && !known.has(job.id))
  })

  api.onEvent((event) => {
    if (event.type === 'job') onIngestFinished(event.job)
  })

  /** Reloads the profile once per ingest job of the open project that finishes with new text. */
  function onIngestFinished(job: JobSnapshot): void {
    if (job.kind !== INGEST_JOB || job.state !== 'done' || reloadedFor.has(job.id)) return
    if (job.projectDir === null || job.projectDir !== projects.currentDir) return
    reloadedFor.add(job.id)
    void load()
  }

  /** Asks the engine for the open project's profile. Failures are kept in `loadError`, not thrown. */
  const load = profile.load

  /** Starts ingesting `paths` into the role's corpus; the engine answers at once with the job. */
  async function add(role: CorpusRole, paths: string[], options?: Partial<IngestOptions>): Promise<JobSnapshot> {
    const dir = requireProjectDir()
    const { job } = await api.call('corpus.add', options === undefined ? { dir, role, paths } : { dir, role, paths, options })
    jobs.track(job)
    jobIds.value = { ...jobIds.value, [dir]: { ...jobIds.value[dir], [role]: job.id } }
    // A very short job may be done before its reply arrives, and its event may have been missed.
    onIngestFinished(jobs.get(job.id) ?? job)
    return job
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

function isActive(job: JobSnapshot | null): boolean {
  return job !== null && !isFinished(job)
}
