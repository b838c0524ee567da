/**
 * The engine's worker threads: one script runs every kind of engine thread (tokenising text into
 * token files, ingesting corpus files, …), told which by its `workerData`. Worker threads cannot
 * run TypeScript, so the script is a bundle:
 *
 * - in the built app and CLI, `out/main/threads.js` (the `threads` entry of electron.vite.config.ts,
 *   main/threads.ts), found beside or above the module that asks;
 * - elsewhere (tests, benchmarks), one set with `setThreadScript` or `VERNACULAR_THREAD_SCRIPT`.
 *
 * Without a script, work runs on the calling thread alone, with the same result.
 * `VERNACULAR_THREADS` sets how many threads (1: none), else every core.
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { Worker, isMainThread, workerData } from 'node:worker_threads'
import { EngineError } from './errors'

const KIND = 'vernacular-engine-thread'
export const THREAD_SCRIPT_NAME = 'threads.js'

let configured: string | URL | null = null

/** Sets the script engine threads run (null: look for it again). */
export function setThreadScript(script: string | URL | null): void {
  configured = script
}

/** The script engine threads run, or null when there is none (then work stays on this thread). */
export function threadScript(): string | URL | null {
  if (configured) return configured
  const env = process.env.VERNACULAR_THREAD_SCRIPT?.trim()
  if (env) return env
  const here = typeof __dirname === 'string' ? __dirname : dirname(new URL(import.meta.url).pathname)
  // Built: this module is in out/main/ (an entry) or out/main/chunks/.
  for (const dir of [here, dirname(here)]) {
    const file = join(dir, THREAD_SCRIPT_NAME)
    if (existsSync(file)) return file
  }
  return null
}

/** Threads to use: `VERNACULAR_THREADS` when set, else every core. */
export function threadCount(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.VERNACULAR_THREADS?.trim()
  if (!v) return availableParallelism()
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new EngineError('invalid-request', `VERNACULAR_THREADS is "${v}", which is not a number of threads.`, { hint: 'Set it to a whole number ≥ 1 (1: one thread), or unset it to use every core.' })
  }
  return n
}

interface ThreadData {
  kind: typeof KIND
  task: string
  data: unknown
}

/** In an engine thread: its task and data; else null. */
export function engineThreadTask(): { task: string; data: unknown } | null {
  if (isMainThread) return null
  const d = workerData as ThreadData | null
  return d?.kind === KIND ? { task: d.task, data: d.data } : null
}

/** Starts an engine thread for `task` on `script`. */
export function startEngineThread(script: string | URL, task: string, data: unknown): Worker {
  const init: ThreadData = { kind: KIND, task, data }
  return new Worker(script, { workerData: init })
}
