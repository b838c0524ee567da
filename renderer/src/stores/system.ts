/** The machine Vernacular runs on: the doctor report and the matMul benchmark. */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { BENCHMARK_JOB, type BenchmarkResult, type DoctorReport, type JobSnapshot, type ParamsIn } from '../../../main/engine/contract'
import { getApi } from '../api/client'
import { useJobsStore } from './jobs'

export const useSystemStore = defineStore('system', () => {
  const api = getApi()
  const jobs = useJobsStore()

  const doctor = shallowRef<DoctorReport | null>(null)
  const benchmarkJobId = ref<string | null>(null)

  /** The latest benchmark job, as the jobs store knows it (kept current by job events). */
  const benchmarkJob = computed<JobSnapshot | null>(() => (benchmarkJobId.value ? jobs.get(benchmarkJobId.value) : null))
  const benchmarkRunning = computed(() => benchmarkJob.value !== null && (benchmarkJob.value.state === 'queued' || benchmarkJob.value.state === 'running'))
  const benchmarkResult = computed<BenchmarkResult | null>(() => {
    const job = benchmarkJob.value
    return job?.kind === BENCHMARK_JOB && job.state === 'done' ? job.result : null
  })

  async function loadDoctor(): Promise<DoctorReport> {
    return (doctor.value = await api.call('system.doctor', {}))
  }

  /** Starts the benchmark; the engine answers at once with the job, which events then update. */
  async function runBenchmark(params: ParamsIn<'system.benchmark'> = {}): Promise<JobSnapshot> {
    const { job } = await api.call('system.benchmark', params)
    jobs.track(job)
    benchmarkJobId.value = job.id
    return job
  }

  return { doctor, benchmarkJobId, benchmarkJob, benchmarkRunning, benchmarkResult, loadDoctor, runBenchmark }
})
