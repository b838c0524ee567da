import { existsSync, readFileSync } from 'node:fs'
import type { GpuAdapterReport } from '../contract'

/**
 * The `webgpu` backend: `@tensorflow/tfjs-backend-webgpu` on Dawn's Node bindings (the npm
 * package `webgpu`), which drive the GPU through its Vulkan (Linux, Windows), Metal (macOS) or
 * D3D12 (Windows) driver. No browser is involved: `navigator.gpu` is installed in this process
 * from the `webgpu` package before the tfjs backend is loaded.
 *
 * We register the tfjs backend factory ourselves instead of tfjs's own: it requests the adapter
 * we have already looked at (so the adapter reported is the adapter used) and a device whose
 * buffer limits are raised to the adapter's (WebGPU's defaults are 256 MiB per buffer and 128 MiB
 * per storage binding; a 50k × 4096 float32 embedding is 800 MB).
 */

/** What we use of a GPUAdapter (the `webgpu` package's objects, or a test's fakes). */
export interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }
  isFallbackAdapter?: boolean
  features: { has(name: string): boolean }
  limits: Record<string, number>
  requestDevice(descriptor?: { requiredLimits?: Record<string, number>; requiredFeatures?: string[] }): Promise<unknown>
}

export interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<AdapterLike | null>
}

/** The `webgpu` package's exports. */
interface DawnModule {
  create(flags: string[]): GpuLike
  globals: Record<string, unknown>
}

/** Software implementations of Vulkan, Metal or D3D12, recognised by name where the adapter does not say it is a fallback. */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i

export function adapterReport(adapter: AdapterLike): GpuAdapterReport {
  const info = adapter.info ?? {}
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ')
  const limit = (name: string) => Number(adapter.limits[name] ?? 0)
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || SOFTWARE.test(text),
    limits: {
      maxBufferSize: limit('maxBufferSize'),
      maxStorageBufferBindingSize: limit('maxStorageBufferBindingSize'),
      maxComputeWorkgroupStorageSize: limit('maxComputeWorkgroupStorageSize'),
      maxComputeInvocationsPerWorkgroup: limit('maxComputeInvocationsPerWorkgroup'),
    },
  }
}

/** "google swiftshader (SwiftShader driver 5.0.0)": the adapter in a few words. */
export function adapterName(a: GpuAdapterReport): string {
  const head = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unnamed adapter'
  const tail = a.description || a.device
  return tail && tail !== head ? `${head} (${tail})` : head
}

/**
 * Whether the Vulkan loader (`libvulkan.so.1`) can be found, on Linux, where Dawn needs it and
 * prints a warning on stderr when it cannot load it. Checked before Dawn is asked so that the
 * fallback order stays quiet on a machine without one (it would otherwise garble `--json` output).
 * Elsewhere (Metal, D3D12) there is nothing to check: true.
 */
export function vulkanLoaderPresent(env: NodeJS.ProcessEnv = process.env, platform: string = process.platform): boolean {
  if (platform !== 'linux') return true
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib']
  if (dirs.some((d) => existsSync(`${d}/libvulkan.so.1`))) return true
  try {
    return readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1')
  } catch {
    return false
  }
}

const installed = new WeakMap<object, GpuLike>()

/**
 * Installs `navigator.gpu` (and the WebGPU constants tfjs reads as globals, `GPUBufferUsage` …)
 * from the `webgpu` package; one Dawn instance per process (per loaded package: tests inject
 * fakes). Node 21 and later (and Electron) have a `navigator` of their own: `gpu` is added to it.
 */
export function installNavigatorGpu(load: (pkg: string) => unknown): GpuLike {
  const dawn = load('webgpu') as DawnModule
  let gpu = installed.get(dawn)
  if (!gpu) {
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true })
    gpu = dawn.create([])
    installed.set(dawn, gpu)
  }
  const g = globalThis as { navigator?: { gpu?: GpuLike } }
  if (g.navigator && g.navigator.gpu !== gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true })
  else if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true })
  return gpu
}

/** The limits the device is requested with: tfjs's own list, each at the adapter's maximum. */
const RAISED_LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'] as const

export async function requestDevice(adapter: AdapterLike): Promise<unknown> {
  const requiredLimits: Record<string, number> = {}
  for (const name of RAISED_LIMITS) if (adapter.limits[name] !== undefined) requiredLimits[name] = adapter.limits[name]
  // timestamp-query lets tf.profile time kernels on the GPU; nothing else needs a feature.
  const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : []
  return adapter.requestDevice({ requiredLimits, requiredFeatures })
}

type TfRegistry = {
  findBackendFactory(name: string): unknown
  removeBackend(name: string): void
  registerBackend(name: string, factory: () => unknown, priority?: number): boolean
  env(): { set(flag: string, value: number | boolean): void }
}

/** tfjs-backend-webgpu's MatMulProgramType.MatMulSmallOutputSizeProgram (webgpu_util.ts). */
const MATMUL_SMALL_OUTPUT_PROGRAM = 2

/**
 * Registers tfjs's WebGPU backend on `adapter` under the name `webgpu`, in place of the factory
 * the package registers for itself (which would request an adapter and a device of its own).
 */
export function registerWebGpuBackend(tf: TfRegistry, load: (pkg: string) => unknown, adapter: AdapterLike): void {
  const { WebGPUBackend } = load('@tensorflow/tfjs-backend-webgpu') as { WebGPUBackend: new (device: unknown, info?: unknown) => unknown }
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu')
  tf.registerBackend('webgpu', async () => new WebGPUBackend(await requestDevice(adapter), adapter.info), 3)
  // For products with at most 128 outputs tfjs picks MatMulReduceProgram, whose workgroup
  // barriers SwiftShader runs ~40-80× slower than the tiled programs: an [8,16]·[16,16] product
  // took ~300 ms against ~3-7 ms (docs/performance.md). On a software adapter every product uses
  // the small-output tiled program (of the tiled ones, the faster on the test suites: golden 20 s
  // against 66 s with the packed one); on a GPU tfjs chooses as it does by default.
  tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', adapterReport(adapter).software ? MATMUL_SMALL_OUTPUT_PROGRAM : -1)
}
