import { THREAD_BUNDLES, threadBundle } from './threads'

// The data-parallel workers' entry point (test/engine/model/fixtures/gradient-worker.ts), bundled
// into out/test/ (threads.ts).
export const GRADIENT_WORKER_OUT = THREAD_BUNDLES

/** The path of the bundled worker script (built once per test process). */
export function gradientWorkerScript(): Promise<string> {
  return threadBundle('test/engine/model/fixtures/gradient-worker.ts', 'gradient-worker')
}
