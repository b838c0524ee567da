/**
 * The application itself, the machine it runs on, projects, and what only the desktop shell can
 * do (folder picker, file manager).
 */
import { z } from 'zod'
import { jobMethod, method } from './jobs'
import type { ProjectManifest } from './manifest'
import { TEMPLATE_NAMES, fsPath, languageTag, noParams, projectName } from './values'

export interface ProjectSummary {
  /** Absolute path of the project folder. */
  dir: string
  manifest: ProjectManifest
}

export interface RecentProject {
  dir: string
  name: string
  language: string
  openedAt: string
  /** `ok` when the manifest could be read just now; otherwise what is wrong with it. */
  status: 'ok' | 'missing' | 'unreadable'
  problem?: string
}

export type BackendName = 'node-gpu' | 'webgpu' | 'node' | 'wasm' | 'cpu'
/** In the fallback order. */
export const BACKEND_NAMES: readonly BackendName[] = ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu']

/** The WebGPU adapter Dawn found (the `webgpu` backend), as GPUAdapterInfo and GPUSupportedLimits give it. */
export interface GpuAdapterReport {
  vendor: string
  architecture: string
  device: string
  description: string
  /** A software rasteriser (SwiftShader, llvmpipe, lavapipe, WARP): correct, but far too slow to train on. */
  software: boolean
  /** The adapter's limits; the engine requests its device with the buffer limits raised to these. */
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }
}

export interface BackendAttempt {
  name: BackendName
  ok: boolean
  /** Why it was or was not chosen, in words a user can act on. */
  reason: string
  /** `webgpu` only: the adapter found, whether it was used or skipped. */
  adapter?: GpuAdapterReport
}

export interface BackendReport {
  /** The backend in use. */
  name: BackendName
  /** The name tfjs gives it (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string
  /** Why this one: the override that chose it, or the fallback order and what failed before it. */
  why: string
  /** `VERNACULAR_BACKEND`, the setting, or `auto`. */
  requestedBy: 'env' | 'setting' | 'auto'
  attempts: BackendAttempt[]
  /** The WebGPU adapter in use (`webgpu` only). */
  adapter?: GpuAdapterReport
}

export interface GpuInfo {
  name: string
  memoryBytes: number | null
  driver: string | null
  source: string
}

export interface DoctorReport {
  vernacularVersion: string
  node: string
  electron: string | null
  platform: string
  arch: string
  cpu: { model: string; cores: number }
  memory: { totalBytes: number; freeBytes: number }
  gpus: GpuInfo[]
  backend: BackendReport
  settingsFile: string
  warnings: string[]
}

export interface BenchmarkResult {
  backend: BackendName
  size: number
  gflops: number
  seconds: number
}

export interface AppInfo {
  name: 'Vernacular'
  version: string
  /** `cli` only for in-process use by the command line; the renderer sees desktop or web. */
  mode: 'desktop' | 'web' | 'cli'
  platform: string
  /** Where "New project" suggests putting projects. */
  defaultProjectsDir: string
  capabilities: {
    /** A native folder picker (desktop only). */
    pickDirectory: boolean
    /** Showing a folder in the system file manager (desktop only). */
    revealPath: boolean
  }
}

export const BENCHMARK_JOB = 'benchmark'

export interface SystemJobs {
  [BENCHMARK_JOB]: { result: BenchmarkResult; labels: Record<string, never> }
}

export const appMethods = {
  'app.info': method<AppInfo>()(noParams),
  'system.doctor': method<DoctorReport>()(noParams),
  'system.benchmark': jobMethod(BENCHMARK_JOB)(
    z
      .object({
        /** Square matrix size for the matMul benchmark. */
        size: z.number().int().min(16).max(8192).default(512),
        repeats: z.number().int().min(1).max(1000).default(20),
      })
      .strict(),
  ),
  /** A new project; from a template, the name and language are the template's unless given. */
  'project.create': method<ProjectSummary>()(
    z
      .object({ dir: fsPath, name: projectName.optional(), language: languageTag.optional(), template: z.enum(TEMPLATE_NAMES).optional() })
      .strict()
      .refine((p) => p.template !== undefined || (p.name !== undefined && p.language !== undefined), { message: 'A project needs a name and a language (or a template).', path: ['name'] }),
  ),
  'project.open': method<ProjectSummary>()(z.object({ dir: fsPath }).strict()),
  /** Opens the bundled demo project, creating it in the user's Vernacular folder the first time. */
  'project.openDemo': method<ProjectSummary>()(noParams),
  'project.rename': method<ProjectSummary>()(z.object({ dir: fsPath, name: projectName }).strict()),
  'project.recent': method<RecentProject[]>()(noParams),
  'project.forget': method<RecentProject[]>()(z.object({ dir: fsPath }).strict()),
  'shell.pickDirectory': method<{ path: string | null }>()(z.object({ title: z.string().max(200).optional(), defaultPath: z.string().max(4096).optional() }).strict()),
  'shell.revealPath': method<{ ok: true }>()(z.object({ path: fsPath }).strict()),
}
