import { engineBackend } from '../backend/select'
import type { BenchmarkResult } from '../contract'
import type { JobContext } from '../jobs/manager'

/**
 * A short matrix-multiplication benchmark on the engine's backend: square float32 products of
 * `size`, `repeats` times, reported in GFLOP/s (2·n³ floating-point operations per product).
 */
export async function matMulBenchmark(ctx: JobContext, size: number, repeats: number): Promise<BenchmarkResult> {
  const { tf, report } = await engineBackend()
  ctx.log(`backend ${report.name}: ${report.why}`)
  const a = tf.randomNormal([size, size], 0, 1, 'float32', 1)
  const b = tf.randomNormal([size, size], 0, 1, 'float32', 2)
  try {
    // One product first, untimed, so that kernel compilation and memory set-up are not counted.
    const warm = tf.matMul(a, b)
    await warm.data()
    warm.dispose()
    let seconds = 0
    for (let i = 0; i < repeats; i++) {
      ctx.throwIfCancelled()
      const t0 = performance.now()
      const c = tf.matMul(a, b)
      await c.data()
      seconds += (performance.now() - t0) / 1000
      c.dispose()
      ctx.progress({ done: i + 1, total: repeats, message: `Product ${i + 1} of ${repeats} (${size}×${size})` })
      // Yield so that cancellation and progress messages get through between products.
      await new Promise((r) => setImmediate(r))
    }
    const gflops = (2 * size ** 3 * repeats) / seconds / 1e9
    ctx.log(`${repeats} products of ${size}×${size} in ${seconds.toFixed(3)} s: ${gflops.toFixed(2)} GFLOP/s`)
    return { backend: report.name, size, gflops, seconds }
  } finally {
    a.dispose()
    b.dispose()
  }
}
