import { isGradientWorker, runGradientWorker } from './engine/model/parallel'
import { requestStop } from './engine/training/runs'
import { trainRun, type WorkerEvent, type WorkerRequest } from './engine/training/worker'

/**
 * The training worker process (out/main/worker.js): started by the engine through the shell's
 * spawner (child_process.fork, or Electron's utilityProcess, whose `process.parentPort` carries the
 * messages), it trains one run and exits.
 */
interface Port {
  postMessage(message: unknown): void
  on(event: 'message', listener: (e: { data: unknown }) => void): void
}
const parentPort = (process as unknown as { parentPort?: Port }).parentPort

const send = (message: WorkerEvent) => {
  if (parentPort) parentPort.postMessage(message)
  else process.send?.(message)
}

/** This bundle: the script of the run's data-parallel worker threads too (model/parallel.ts). */
const SCRIPT = typeof __filename === 'string' ? __filename : new URL(import.meta.url)

let current: WorkerRequest | null = null

// The engine that started us is gone (its process was killed): pause at the next step, with a
// checkpoint, rather than train on unwatched. `vernacular train --resume` goes on from there.
process.on('disconnect', () => {
  if (current) void requestStop(current.projectDir, current.run, 'pause')
})

async function start(request: WorkerRequest): Promise<void> {
  if (request.type !== 'start') return
  current = request
  await trainRun(request.projectDir, request.run, send, { workerScript: SCRIPT })
  // Let the last messages reach the parent before exiting.
  setTimeout(() => process.exit(0), 50)
}

if (isGradientWorker()) void runGradientWorker()
else if (parentPort) parentPort.on('message', (e) => void start(e.data as WorkerRequest))
else process.on('message', (m) => void start(m as WorkerRequest))
