import { fork } from 'node:child_process'
import { join } from 'node:path'
import type { WorkerEvent, WorkerProcess, WorkerRequest, WorkerSpawner } from './engine/training/worker'

/** The training worker for the CLI and web mode: a Node child process running out/main/worker.js. */
export const forkWorker: WorkerSpawner = (): WorkerProcess => {
  const child = fork(join(__dirname, 'worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return {
    send: (m: WorkerRequest) => void child.send(m),
    onMessage: (listener) => void child.on('message', (m) => listener(m as WorkerEvent)),
    onExit: (listener) => void child.on('exit', (code, signal) => listener(code, signal)),
    kill: () => void child.kill('SIGKILL'),
  }
}
