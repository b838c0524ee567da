/**
 * How requests, replies and events travel: the WebSocket and HTTP envelope of web mode (Electron
 * IPC carries the same request and reply objects), the events the engine pushes, and the object
 * the renderer talks to whichever transport carries it.
 */
import { z } from 'zod'
import type { JobSnapshot } from './jobs'
import type { ProjectManifest } from './manifest'
import type { MethodName, ParamsIn, Result } from './index'

export type EngineEvent =
  | { type: 'job'; job: JobSnapshot }
  | { type: 'project'; dir: string; manifest: ProjectManifest }

export interface WireError {
  code: string
  message: string
  hint?: string
  file?: string
  details?: string[]
}

export const wireRequest = z
  .object({
    id: z.union([z.number().int(), z.string().max(64)]),
    method: z.string().min(1).max(64),
    params: z.unknown().optional(),
  })
  .strict()

export type WireRequest = z.infer<typeof wireRequest>

export type WireReply =
  | { kind: 'reply'; id: number | string; ok: true; result: unknown }
  | { kind: 'reply'; id: number | string | null; ok: false; error: WireError }

export type WireMessage = WireReply | { kind: 'event'; event: EngineEvent }

/** The object the renderer talks to, whichever transport carries it. */
export interface VernacularApi {
  call<M extends MethodName>(method: M, params: ParamsIn<M>): Promise<Result<M>>
  onEvent(listener: (event: EngineEvent) => void): () => void
}

/** What the desktop preload exposes on `window.vernacular`. Replies carry errors as values. */
export interface PreloadBridge {
  invoke(method: string, params: unknown): Promise<WireReply>
  onEvent(listener: (event: EngineEvent) => void): () => void
}

/** Raised on the renderer side when a call fails; carries the engine's error. */
export class ApiError extends Error {
  readonly code: string
  readonly hint?: string
  readonly file?: string
  readonly details?: string[]
  constructor(error: WireError) {
    super(error.message)
    this.name = 'ApiError'
    this.code = error.code
    if (error.hint !== undefined) this.hint = error.hint
    if (error.file !== undefined) this.file = error.file
    if (error.details !== undefined) this.details = error.details
  }
}
