import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { parseBackendName, selectBackend } from '../../../main/engine/backend/select'

const nodeRequire = createRequire(import.meta.url)

/** Real loading, except for the named packages, which fail as a missing module would. */
function loaderWithout(...missing: string[]) {
  return (pkg: string) => {
    if (missing.includes(pkg)) throw Object.assign(new Error(`Cannot find module '${pkg}'`), { code: 'MODULE_NOT_FOUND' })
    return nodeRequire(pkg)
  }
}

describe('tensor backend selection', () => {
  it('falls back in order and says why', async () => {
    const { tf, report } = await selectBackend({ load: loaderWithout('@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node') })
    expect(report.name).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
    expect(report.requestedBy).toBe('auto')
    expect(report.attempts.map((a) => [a.name, a.ok])).toEqual([
      ['node-gpu', false],
      ['webgpu', false],
      ['node', false],
      ['wasm', true],
    ])
    expect(report.attempts[0]?.reason).toMatch(/not installed.*CUDA/)
    expect(report.why).toContain('node-gpu: @tensorflow/tfjs-node-gpu is not installed')
    // The chosen backend really computes.
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])))
    expect(Array.from(await y.data())).toEqual([11])
  })

  it('reports a native package that is installed but broken', async () => {
    const load = (pkg: string) => {
      if (pkg === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file')
      return loaderWithout('@tensorflow/tfjs-node')(pkg)
    }
    const { report } = await selectBackend({ load })
    expect(report.attempts[0]?.reason).toBe('@tensorflow/tfjs-node-gpu is installed but failed to load: libcudart.so.11.0: cannot open shared object file')
  })

  it('skips a backend that loads but computes wrongly', async () => {
    const realTf = nodeRequire('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core')
    nodeRequire('@tensorflow/tfjs-backend-wasm')
    // A fake "node" backend: the cpu backend's kernels registered under the name "tensorflow",
    // with matMul broken.
    const load = (pkg: string) => {
      if (pkg === '@tensorflow/tfjs-node') {
        if (!realTf.findBackendFactory('tensorflow')) {
          nodeRequire('@tensorflow/tfjs-backend-cpu')
          const { MathBackendCPU } = nodeRequire('@tensorflow/tfjs-backend-cpu') as { MathBackendCPU: new () => import('@tensorflow/tfjs-core').KernelBackend }
          realTf.registerBackend('tensorflow', () => new MathBackendCPU(), 1)
          for (const k of realTf.getKernelsForBackend('cpu')) {
            if (k.kernelName === 'BatchMatMul') continue
            realTf.registerKernel({ ...k, backendName: 'tensorflow' })
          }
          realTf.registerKernel({
            kernelName: 'BatchMatMul',
            backendName: 'tensorflow',
            kernelFunc: ({ inputs, backend }) => {
              const a = inputs.a as import('@tensorflow/tfjs-core').TensorInfo
              const b = backend as import('@tensorflow/tfjs-core').KernelBackend & { makeTensorInfo(s: number[], d: string, v: Float32Array): import('@tensorflow/tfjs-core').TensorInfo }
              return b.makeTensorInfo([1, a.shape[1] as number, a.shape[1] as number], 'float32', new Float32Array((a.shape[1] as number) ** 2))
            },
          })
        }
        return {}
      }
      return loaderWithout('@tensorflow/tfjs-node-gpu')(pkg)
    }
    const { report } = await selectBackend({ load })
    const node = report.attempts.find((a) => a.name === 'node')
    expect(node).toMatchObject({ name: 'node', ok: false })
    expect(node?.reason).toMatch(/failed its self-test: a 2×2 matMul gave \[0, 0, 0, 0\]/)
    expect(report.name).toBe('wasm')
    realTf.removeBackend('tensorflow')
  })

  it('honours an explicit choice and refuses to fall back from it', async () => {
    const cpu = await selectBackend({ requested: 'cpu', requestedBy: 'env', load: loaderWithout() })
    expect(cpu.report).toMatchObject({ name: 'cpu', requestedBy: 'env', why: 'chosen by VERNACULAR_BACKEND' })
    expect(cpu.report.attempts).toHaveLength(1)
    await expect(selectBackend({ requested: 'node-gpu', requestedBy: 'env', load: loaderWithout('@tensorflow/tfjs-node-gpu') })).rejects.toMatchObject({
      code: 'unavailable',
      hint: expect.stringContaining('Unset VERNACULAR_BACKEND'),
    })
  })

  it('parses backend names from the environment', () => {
    expect(parseBackendName(' WASM ', 'VERNACULAR_BACKEND')).toBe('wasm')
    expect(parseBackendName('auto', 'x')).toBe('auto')
    expect(() => parseBackendName('cuda', 'VERNACULAR_BACKEND')).toThrow(/VERNACULAR_BACKEND is "cuda"/)
  })
})
