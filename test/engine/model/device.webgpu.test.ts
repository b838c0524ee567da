import { describe, expect, it } from 'vitest'
import { trainingDevice } from '../../../main/engine/model/project'

// The Base model step's device on webgpu: the adapter's buffer limit comes with it.
describe('the training device on webgpu', () => {
  it('names the adapter and carries its largest buffer', async () => {
    process.env.VERNACULAR_BACKEND = 'webgpu'
    const device = await trainingDevice()
    expect(device.backend).toBe('webgpu')
    expect(device.name).toMatch(/^WebGPU: google swiftshader/)
    // SwiftShader runs on the CPU: system memory, and a 1 GiB buffer limit (Dawn 0.6.2).
    expect(device.kind).toBe('cpu')
    expect(device.maxBufferBytes).toBe(1024 ** 3)
    expect(device.memoryBytes).toBeGreaterThan(0)
  })
})
