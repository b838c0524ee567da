import { createRequire } from 'node:module'
import { BACKEND_NAMES, type BackendAttempt, type BackendName, type BackendReport } from '../contract'
import { EngineError } from '../common/errors'
import { readSettings } from '../common/settings'
import { type AdapterLike, adapterName, adapterReport, installNavigatorGpu, registerWebGpuBackend, vulkanLoaderPresent } from './webgpu'

/**
 * Chooses the tensor backend for the whole engine, once per process.
 *
 * Order: `@tensorflow/tfjs-node-gpu` (CUDA) → `@tensorflow/tfjs-backend-webgpu` on Dawn (any GPU
 * with a Vulkan, Metal or D3D12 driver; hardware adapters only: software ones such as SwiftShader,
 * llvmpipe and lavapipe are skipped) → `@tensorflow/tfjs-node` (native CPU) →
 * `@tensorflow/tfjs-backend-wasm` → the pure-JS `cpu` backend; the first that loads and computes
 * a small product correctly wins. `VERNACULAR_BACKEND` or the `backend` setting picks one
 * explicitly, and then a failure is an error rather than a silent fallback (and `webgpu` takes
 * whatever adapter there is, software included: that is how CI tests it on SwiftShader).
 *
 * Every package is loaded through Node's own resolution (`require`), never bundled, so that the
 * native packages and the backends register themselves in the one copy of tfjs-core we use.
 */

export type Tf = typeof import('@tensorflow/tfjs-core')

const nodeRequire = createRequire(typeof __filename === 'string' ? __filename : import.meta.url)

interface Candidate {
  name: BackendName
  /** The package that provides it. */
  pkg: string
  /** The name tfjs registers it under. */
  tfBackend: string
}

export const CANDIDATES: readonly Candidate[] = [
  { name: 'node-gpu', pkg: '@tensorflow/tfjs-node-gpu', tfBackend: 'tensorflow' },
  { name: 'webgpu', pkg: '@tensorflow/tfjs-backend-webgpu', tfBackend: 'webgpu' },
  { name: 'node', pkg: '@tensorflow/tfjs-node', tfBackend: 'tensorflow' },
  { name: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm', tfBackend: 'wasm' },
  { name: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', tfBackend: 'cpu' },
]

export interface BackendChoice {
  tf: Tf
  report: BackendReport
}

export interface SelectOptions {
  /** An explicit choice; `auto` or undefined means the fallback order. */
  requested?: BackendName | 'auto'
  requestedBy?: BackendReport['requestedBy']
  /** Injected module loader, for tests. */
  load?: (pkg: string) => unknown
  /** Whether Dawn can load a Vulkan loader on this machine (injected by tests). */
  vulkanPresent?: () => boolean
}

const ORDER = CANDIDATES.map((c) => c.name).join(' → ')

function loadError(pkg: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException
  if (err?.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${pkg}'`)) {
    return pkg.includes('tfjs-node')
      ? `${pkg} is not installed (an optional dependency: npm installs it only where it can download libtensorflow${pkg.endsWith('-gpu') ? ' for CUDA' : ''})`
      : `${pkg} is not installed`
  }
  const first = String(err?.message ?? e).split('\n')[0]
  return `${pkg} is installed but failed to load: ${first}`
}

/** Multiplies two small matrices and checks the answer, so a backend that loads but computes nothing is not chosen. */
async function sanityCheck(tf: Tf): Promise<void> {
  const product = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])))
  const got = await product.data()
  product.dispose()
  const want = [19, 22, 43, 50]
  if (want.some((v, i) => Math.abs((got[i] ?? NaN) - v) > 1e-4)) throw new Error(`a 2×2 matMul gave [${[...got].join(', ')}], expected [${want.join(', ')}]`)
}

interface TryOptions {
  /** Named explicitly (not the fallback order): a software WebGPU adapter is then accepted. */
  forced: boolean
  vulkanPresent: () => boolean
}

/**
 * The `webgpu` candidate's own checks before tfjs is asked: a Vulkan loader on Linux, Dawn, an
 * adapter, and in the fallback order a hardware one. Registers the backend on that adapter.
 */
async function prepareWebGpu(tf: Tf, load: (pkg: string) => unknown, opts: TryOptions): Promise<{ adapter?: BackendAttempt['adapter']; skip?: string }> {
  if (!opts.forced && !opts.vulkanPresent()) {
    return { skip: 'no Vulkan loader (libvulkan.so.1) on this machine, so Dawn can reach no GPU: install the GPU vendor\'s Vulkan driver (Debian: libvulkan1 and the driver package)' }
  }
  let adapter: AdapterLike | null
  try {
    adapter = await installNavigatorGpu(load).requestAdapter({ powerPreference: 'high-performance' })
  } catch (e) {
    return { skip: loadError('webgpu', e) }
  }
  if (!adapter) {
    const loader = opts.vulkanPresent() ? '' : ' (and no Vulkan loader, libvulkan.so.1, was found: install the GPU vendor\'s Vulkan driver)'
    return { skip: `Dawn (the webgpu package) found no GPU adapter: no Vulkan, Metal or D3D12 driver that supports WebGPU${loader}` }
  }
  const report = adapterReport(adapter)
  if (report.software && !opts.forced) {
    return { adapter: report, skip: `the adapter Dawn offers is a software one, ${adapterName(report)}: correct but far too slow to train on (VERNACULAR_BACKEND=webgpu uses it anyway)` }
  }
  try {
    registerWebGpuBackend(tf, load, adapter)
  } catch (e) {
    return { adapter: report, skip: loadError('@tensorflow/tfjs-backend-webgpu', e) }
  }
  return { adapter: report }
}

export async function tryBackend(tf: Tf, c: Candidate, load: (pkg: string) => unknown, opts: TryOptions = { forced: false, vulkanPresent: vulkanLoaderPresent }): Promise<BackendAttempt> {
  let adapter: BackendAttempt['adapter']
  if (c.name === 'webgpu') {
    const prepared = await prepareWebGpu(tf, load, opts)
    adapter = prepared.adapter
    if (prepared.skip) return { name: c.name, ok: false, reason: prepared.skip, ...(adapter && { adapter }) }
  } else {
    try {
      load(c.pkg)
    } catch (e) {
      return { name: c.name, ok: false, reason: loadError(c.pkg, e) }
    }
  }
  const withAdapter = adapter ? { adapter } : {}
  if (!tf.findBackendFactory(c.tfBackend)) {
    return { name: c.name, ok: false, reason: `${c.pkg} loaded but registered no '${c.tfBackend}' backend in this copy of @tensorflow/tfjs-core (versions differ? run \`npm ls @tensorflow/tfjs-core\`)`, ...withAdapter }
  }
  try {
    const ok = await tf.setBackend(c.tfBackend)
    if (!ok) return { name: c.name, ok: false, reason: `${c.pkg} loaded but its backend failed to initialise`, ...withAdapter }
    await tf.ready()
    await sanityCheck(tf)
  } catch (e) {
    return { name: c.name, ok: false, reason: `${c.pkg} failed its self-test: ${(e as Error).message}`, ...withAdapter }
  }
  const detail =
    c.name === 'node-gpu'
      ? 'CUDA through libtensorflow'
      : c.name === 'webgpu'
        ? `WebGPU through Dawn on ${adapter ? adapterName(adapter) : 'the GPU'}${adapter?.software ? ', a software adapter' : ''}`
        : c.name === 'node'
          ? 'native libtensorflow on the CPU'
          : c.name === 'wasm'
            ? 'WebAssembly with SIMD, one thread'
            : 'pure JavaScript, the slowest'
  return { name: c.name, ok: true, reason: `${c.pkg} loaded and passed its self-test (${detail})`, ...withAdapter }
}

export function parseBackendName(value: string, source: string): BackendName | 'auto' {
  const v = value.trim().toLowerCase()
  if (v === 'auto' || (BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName | 'auto'
  throw new EngineError('invalid-request', `${source} is "${value}", which is not a tensor backend.`, {
    hint: `Use one of: auto, ${BACKEND_NAMES.join(', ')}.`,
  })
}

export async function selectBackend(opts: SelectOptions = {}): Promise<BackendChoice> {
  const load = opts.load ?? ((pkg: string) => nodeRequire(pkg))
  const tf = load('@tensorflow/tfjs-core') as Tf
  // tfjs-core's Node bundle registers no gradients; the `@tensorflow/tfjs` bundle registers them all
  // in this same copy of tfjs-core (as tfjs-node does by loading it). Training needs them.
  load('@tensorflow/tfjs')
  // Production mode: no console banners from tfjs (they would break `--json` output on stderr);
  // `doctor` says which backend is in use and why.
  tf.env().set('PROD', true)
  const requested = opts.requested ?? 'auto'
  const requestedBy = requested === 'auto' ? 'auto' : (opts.requestedBy ?? 'setting')
  const candidates = requested === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.name === requested)
  const attempts: BackendAttempt[] = []
  const tryOpts: TryOptions = { forced: requested !== 'auto', vulkanPresent: opts.vulkanPresent ?? (() => vulkanLoaderPresent()) }
  for (const c of candidates) {
    const attempt = await tryBackend(tf, c, load, tryOpts)
    attempts.push(attempt)
    if (!attempt.ok) continue
    const why =
      requested !== 'auto'
        ? `chosen by ${requestedBy === 'env' ? 'VERNACULAR_BACKEND' : 'the "backend" setting'}`
        : attempts.length === 1
          ? `the first in the fallback order (${ORDER}) that works`
          : `the first that works in the fallback order ${ORDER}; before it: ${attempts
              .filter((a) => !a.ok)
              .map((a) => `${a.name}: ${a.reason}`)
              .join('; ')}`
    return { tf, report: { name: c.name, tfBackend: c.tfBackend, why, requestedBy, attempts, ...(attempt.adapter && { adapter: attempt.adapter }) } }
  }
  if (requested !== 'auto') {
    throw new EngineError('unavailable', `The tensor backend "${requested}" (${requestedBy === 'env' ? 'from VERNACULAR_BACKEND' : 'from the "backend" setting'}) cannot be used: ${attempts[0]?.reason ?? 'unknown backend'}.`, {
      hint: requestedBy === 'env' ? 'Unset VERNACULAR_BACKEND (or set it to auto) to use the best backend that works.' : 'Set "backend" to "auto" in the settings to use the best backend that works.',
    })
  }
  throw new EngineError('unavailable', `No tensor backend works: ${attempts.map((a) => `${a.name}: ${a.reason}`).join('; ')}.`, {
    hint: 'Reinstall with `npm ci`; @tensorflow/tfjs-backend-wasm and -cpu are regular dependencies and should always load.',
  })
}

let chosen: Promise<BackendChoice> | null = null

/**
 * The engine-wide backend: chosen on first use from `VERNACULAR_BACKEND`, then the user's setting,
 * then the fallback order. Later calls return the same choice.
 */
export function engineBackend(env: NodeJS.ProcessEnv = process.env): Promise<BackendChoice> {
  chosen ??= (async () => {
    if (env.VERNACULAR_BACKEND) return selectBackend({ requested: parseBackendName(env.VERNACULAR_BACKEND, 'VERNACULAR_BACKEND'), requestedBy: 'env' })
    const settings = await readSettings()
    if (settings.backend && settings.backend !== 'auto') return selectBackend({ requested: settings.backend, requestedBy: 'setting' })
    return selectBackend()
  })()
  // A failed choice is not cached: the user may fix the setting and ask again.
  chosen.catch(() => (chosen = null))
  return chosen
}
