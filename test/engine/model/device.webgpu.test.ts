import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { engineBackend } from '../../../main/engine/backend/select'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { CausalLM, bufferLimitProblem, webGpuBufferLimit } from '../../../main/engine/model/model'
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

// Loading: a model whose largest weight does not fit one of the device's buffers is refused before
// any weight is read, naming the weight, its size and the limit (the demo base's largest weight,
// the 8,192 × 128 token embedding, is 4 MiB).
describe('loading a model on webgpu', () => {
  it('reads the device limit, and refuses a weight larger than a buffer', async () => {
    process.env.VERNACULAR_BACKEND = 'webgpu'
    const { tf } = await engineBackend()
    expect(webGpuBufferLimit(tf)).toBe(1024 ** 3)
    const ckpt = await openCheckpoint(join(__dirname, '../../../resources/demo/base-model'))
    expect(bufferLimitProblem(ckpt, 1024 ** 3)).toBeNull()
    const problem = bufferLimitProblem(ckpt, 2 ** 20)
    expect(problem?.message).toMatch(/its weight wte\.weight takes 4 MiB in float32, more than this GPU's WebGPU device can hold in one buffer \(1 MiB\)/)
    expect(problem?.hint).toMatch(/vernacular doctor/)
    const model = await CausalLM.load(tf, ckpt)
    expect(model.config.vocabSize).toBe(8192)
    model.dispose()
  })
})
