import { cpus, freemem, totalmem } from 'node:os'
import { engineBackend } from '../backend/select'
import type { DoctorReport } from '../contract'
import { settingsFile } from '../common/settings'
import { VERNACULAR_VERSION } from '../common/version'
import { detectGpus } from './gpus'

/** Everything a user (or a bug report) needs to know about this machine and the engine's choices. */
export async function doctor(): Promise<DoctorReport> {
  const [gpus, { report: backend }] = await Promise.all([detectGpus(), engineBackend()])
  const cpuList = cpus()
  const warnings: string[] = []
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
  if (major < 20 || (major === 20 && minor < 19)) warnings.push(`Node ${process.versions.node} is older than Vernacular supports (20.19 or newer).`)
  const hasNvidia = gpus.some((g) => g.source !== '/sys/class/drm' || g.name.startsWith('NVIDIA'))
  if (hasNvidia && backend.name !== 'node-gpu') {
    const gpuAttempt = backend.attempts.find((a) => a.name === 'node-gpu')
    warnings.push(
      `An NVIDIA GPU is present but not used: ${gpuAttempt ? gpuAttempt.reason : `the backend was set to ${backend.name}`}. ` +
        'Install CUDA and cuDNN as @tensorflow/tfjs-node-gpu requires, then run `npm install` again with internet access.',
    )
  }
  if (backend.name === 'cpu') warnings.push('The pure-JavaScript cpu backend is in use: training will be very slow. The wasm backend is about 10× faster.')
  return {
    vernacularVersion: VERNACULAR_VERSION,
    node: process.versions.node,
    electron: process.versions.electron ?? null,
    platform: process.platform,
    arch: process.arch,
    cpu: { model: cpuList[0]?.model.trim() ?? 'unknown', cores: cpuList.length },
    memory: { totalBytes: totalmem(), freeBytes: freemem() },
    gpus,
    backend,
    settingsFile: settingsFile(),
    warnings,
  }
}
