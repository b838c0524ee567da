/**
 * Long-running engine work. The engine pushes a snapshot on every change (`{type:'job'}` events);
 * `jobs.list` fills in what happened while this window was not listening.
 */
import { defineStore } from 'pinia'
import { computed, shallowRef } from 'vue'
import type { JobSnapshot, JobState } from '../../../main/engine/contract'
import { getApi } from '../api/client'

const FINISHED: readonly JobState[] = ['done', 'failed', 'cancelled']

export function isFinished(job: JobSnapshot): boolean {
  return FINISHED.includes(job.state)
}

/** How many finished jobs `recent` keeps. */
export const RECENT_LIMIT = 20

export const useJobsStore = defineStore('jobs', () => {
  const api = getApi()

  const byId = shallowRef<Readonly<Record<string, JobSnapshot>>>({})

  const all = computed(() => Object.values(byId.value).sort((a, b) => b.createdAt.localeCompare(a.createdAt)))
  /** Queued and running jobs, newest first. */
  const active = computed(() => all.value.filter((job) => !isFinished(job)))
  /** Finished jobs, most recently finished first. */
  const recent = computed(() =>
    all.value
      .filter(isFinished)
      .sort((a, b) => (b.finishedAt ?? b.createdAt).localeCompare(a.finishedAt ?? a.createdAt))
      .slice(0, RECENT_LIMIT),
  )
  const activeCount = computed(() => active.value.length)

  api.onEvent((event) => {
    if (event.type === 'job') track(event.job)
  })

  /**
   * Records a snapshot unless a newer one (higher `revision`) is already known: a `jobs.list`
   * reply that crossed a `done` event must not move the job back to running.
   */
  function track(job: JobSnapshot): void {
    const known = byId.value[job.id]
    if (known && known.revision > job.revision) return
    byId.value = { ...byId.value, [job.id]: job }
  }

  function get(id: string): JobSnapshot | null {
    return byId.value[id] ?? null
  }

  async function refresh(): Promise<void> {
    const jobs = await api.call('jobs.list', {})
    for (const job of jobs) track(job)
  }

  async function cancel(id: string): Promise<JobSnapshot> {
    const job = await api.call('jobs.cancel', { id })
    track(job)
    return job
  }

  return { byId, all, active, recent, activeCount, track, get, refresh, cancel }
})
