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
  const onGpu = backend.name === 'node-gpu' || (backend.name === 'webgpu' && !backend.adapter?.software)
  if (hasNvidia && !onGpu) {
    const webgpu = backend.attempts.find((a) => a.name === 'webgpu')
    const cuda = backend.attempts.find((a) => a.name === 'node-gpu')
    const why = [webgpu && `webgpu: ${webgpu.reason}`, cuda && `node-gpu: ${cuda.reason}`].filter(Boolean).join('; ')
    warnings.push(
      `An NVIDIA GPU is present but not used: ${why || `the backend was set to ${backend.name}`}. ` +
        'Install the GPU vendor\'s Vulkan driver (Linux, Windows) so that the webgpu backend can use it' +
        ', or CUDA and cuDNN as @tensorflow/tfjs-node-gpu requires and then `npm install` again with internet access.',
    )
  }
  if (backend.name === 'webgpu' && backend.adapter?.software) warnings.push('The webgpu backend runs on a software adapter (on the CPU): correct, but far slower than wasm. Use it for testing only.')
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
