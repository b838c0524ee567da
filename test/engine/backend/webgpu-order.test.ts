import { createRequire } from 'node:module'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { selectBackend } from '../../../main/engine/backend/select'
import { type AdapterLike, adapterReport, vulkanLoaderPresent } from '../../../main/engine/backend/webgpu'

// The webgpu candidate's place in the fallback order and its skip rules, with Dawn replaced by a
// fake `webgpu` module (the real one on SwiftShader is tested in test/webgpu/).
const nodeRequire = createRequire(import.meta.url)
const missing = (pkg: string) => Object.assign(new Error(`Cannot find module '${pkg}'`), { code: 'MODULE_NOT_FOUND' })

const GiB = 1024 ** 3
function fakeAdapter(info: NonNullable<AdapterLike['info']>, requested: unknown[] = []): AdapterLike {
  return {
    info,
    features: { has: (f: string) => f === 'timestamp-query' },
    limits: { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB, maxComputeWorkgroupStorageSize: 32768, maxComputeWorkgroupsPerDimension: 65535, maxComputeWorkgroupSizeX: 1024, maxComputeInvocationsPerWorkgroup: 1024 },
    requestDevice: (descriptor) => {
      requested.push(descriptor)
      return Promise.reject(new Error('fake adapter: no device'))
    },
  }
}

/** Real packages, except node-gpu and node (missing) and `webgpu` (a fake Dawn with this adapter). */
function loader(adapter: AdapterLike | null, calls: string[] = []) {
  // A fresh module object per loader, so each test gets its own Dawn instance.
  const dawn = { create: () => ({ requestAdapter: () => Promise.resolve(adapter) }), globals: {} }
  return (pkg: string) => {
    calls.push(pkg)
    if (pkg === '@tensorflow/tfjs-node-gpu' || pkg === '@tensorflow/tfjs-node') throw missing(pkg)
    if (pkg === 'webgpu') return dawn
    return nodeRequire(pkg)
  }
}

const SWIFTSHADER = { vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true }
const NVIDIA = { vendor: 'nvidia', architecture: 'ada', device: '0x2684', description: 'NVIDIA GeForce RTX 4090' }

describe('the webgpu candidate', () => {
  it('comes second in the order and is skipped without a Vulkan loader, before Dawn is loaded', async () => {
    const calls: string[] = []
    const { report } = await selectBackend({ load: loader(fakeAdapter(NVIDIA), calls), vulkanPresent: () => false })
    expect(report.attempts.map((a) => a.name)).toEqual(['node-gpu', 'webgpu', 'node', 'wasm'])
    expect(report.name).toBe('wasm')
    expect(report.attempts[1]).toMatchObject({ ok: false, reason: expect.stringMatching(/no Vulkan loader \(libvulkan\.so\.1\)/) })
    expect(calls).not.toContain('webgpu')
    expect(report.why).toContain('fallback order node-gpu → webgpu → node → wasm → cpu')
  })

  it('skips a software adapter in the fallback order and reports it', async () => {
    const requested: unknown[] = []
    const { report } = await selectBackend({ load: loader(fakeAdapter(SWIFTSHADER, requested)), vulkanPresent: () => true })
    const webgpu = report.attempts[1]!
    expect(webgpu).toMatchObject({ name: 'webgpu', ok: false })
    expect(webgpu.reason).toMatch(/software one, google swiftshader \(SwiftShader driver 5\.0\.0\).*VERNACULAR_BACKEND=webgpu/)
    expect(webgpu.adapter).toMatchObject({ vendor: 'google', architecture: 'swiftshader', software: true, limits: { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB } })
    expect(requested).toEqual([])
    expect(report.name).toBe('wasm')
    expect(report.adapter).toBeUndefined()
  })

  it('says so when Dawn finds no adapter at all', async () => {
    const { report } = await selectBackend({ load: loader(null), vulkanPresent: () => true })
    expect(report.attempts[1]).toMatchObject({ name: 'webgpu', ok: false, reason: expect.stringMatching(/found no GPU adapter/) })
    expect(report.attempts[1]?.adapter).toBeUndefined()
  })

  it('takes a hardware adapter, requesting a device with the buffer limits raised to the adapter\'s', async () => {
    const requested: unknown[] = []
    const { report } = await selectBackend({ load: loader(fakeAdapter(NVIDIA, requested)), vulkanPresent: () => true })
    // The fake adapter gives no device, so the backend fails to initialise and wasm is chosen.
    expect(requested).toHaveLength(1)
    expect(requested[0]).toEqual({
      requiredLimits: { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB, maxComputeWorkgroupStorageSize: 32768, maxComputeWorkgroupsPerDimension: 65535, maxComputeWorkgroupSizeX: 1024, maxComputeInvocationsPerWorkgroup: 1024 },
      requiredFeatures: ['timestamp-query'],
    })
    expect(report.attempts[1]).toMatchObject({ name: 'webgpu', ok: false, reason: expect.stringMatching(/failed to initialise/), adapter: { vendor: 'nvidia', software: false } })
    expect(report.name).toBe('wasm')
  })

  it('uses a software adapter when named explicitly, without the Vulkan check', async () => {
    const requested: unknown[] = []
    const forced = selectBackend({ requested: 'webgpu', requestedBy: 'env', load: loader(fakeAdapter(SWIFTSHADER, requested)), vulkanPresent: () => false })
    // It gets as far as the device (which the fake refuses), and then refuses to fall back.
    await expect(forced).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/"webgpu" \(from VERNACULAR_BACKEND\) cannot be used/) })
    expect(requested).toHaveLength(1)
  })
})

describe('adapters', () => {
  it('recognises software adapters by the fallback flag or by name', () => {
    const base = { features: { has: () => false }, limits: {}, requestDevice: () => Promise.resolve({}) }
    expect(adapterReport({ ...base, info: SWIFTSHADER }).software).toBe(true)
    expect(adapterReport({ ...base, info: { vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }).software).toBe(true)
    expect(adapterReport({ ...base, info: { vendor: 'mesa', architecture: '', device: '', description: 'lavapipe' } }).software).toBe(true)
    expect(adapterReport({ ...base, info: { vendor: 'microsoft', architecture: '', device: '', description: 'Microsoft Basic Render Driver' } }).software).toBe(true)
    expect(adapterReport({ ...base, info: NVIDIA }).software).toBe(false)
    expect(adapterReport({ ...base, info: { vendor: 'apple', architecture: 'metal-3', device: '', description: 'Apple M2' } })).toMatchObject({ software: false, limits: { maxBufferSize: 0 } })
  })

  it('finds the Vulkan loader on LD_LIBRARY_PATH; elsewhere than Linux it does not look', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vk-'))
    writeFileSync(join(dir, 'libvulkan.so.1'), '')
    expect(vulkanLoaderPresent({ LD_LIBRARY_PATH: `/nonexistent:${dir}` }, 'linux')).toBe(true)
    expect(vulkanLoaderPresent({}, 'darwin')).toBe(true)
    expect(vulkanLoaderPresent({}, 'win32')).toBe(true)
  })
})
