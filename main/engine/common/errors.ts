/**
 * The one error type that crosses the engine boundary. Every failure a user can cause carries a
 * stable `code`, a message that names the thing (file, field, place in it) and a `hint` that says
 * what to do. Transports (IPC, WebSocket, HTTP, CLI) serialise it with `toErrorInfo`.
 */
export type ErrorCode =
  | 'invalid-request'
  | 'bad-input'
  | 'unknown-method'
  | 'not-found'
  | 'not-a-project'
  | 'project-exists'
  | 'corrupt-manifest'
  | 'newer-schema'
  | 'permission-denied'
  | 'locked'
  | 'unavailable'
  | 'cancelled'
  | 'io'
  | 'internal'

export interface ErrorInfo {
  code: ErrorCode
  message: string
  hint?: string
  file?: string
  details?: string[]
}

export class EngineError extends Error {
  readonly code: ErrorCode
  readonly hint?: string
  readonly file?: string
  readonly details?: string[]

  constructor(code: ErrorCode, message: string, opts: { hint?: string; file?: string; details?: string[]; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'EngineError'
    this.code = code
    if (opts.hint !== undefined) this.hint = opts.hint
    if (opts.file !== undefined) this.file = opts.file
    if (opts.details !== undefined) this.details = opts.details
  }

  toJSON(): ErrorInfo {
    return toErrorInfo(this)
  }
}

export function isEngineError(e: unknown): e is EngineError {
  return e instanceof EngineError
}

/** Turns anything thrown into the wire shape; unexpected errors become `internal` with their message. */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof EngineError) {
    const info: ErrorInfo = { code: e.code, message: e.message }
    if (e.hint !== undefined) info.hint = e.hint
    if (e.file !== undefined) info.file = e.file
    if (e.details !== undefined) info.details = e.details
    return info
  }
  const message = e instanceof Error ? e.message : String(e)
  return { code: 'internal', message, hint: 'This is a bug in Vernacular; the job log has the details.' }
}

/** Maps a Node filesystem error on `file` to an EngineError that says what to do. */
export function fsError(e: unknown, file: string, action: string): EngineError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new EngineError('permission-denied', `Cannot ${action} ${file}: permission denied${code === 'EROFS' ? ' (read-only file system)' : ''}.`, {
        file,
        hint: 'Choose a folder you can write to, or change its permissions.',
        cause: e,
      })
    case 'ENOENT':
      return new EngineError('not-found', `Cannot ${action} ${file}: it does not exist.`, { file, hint: 'Check the path.', cause: e })
    case 'ENOTDIR':
      return new EngineError('not-found', `Cannot ${action} ${file}: a part of the path is a file, not a folder.`, { file, hint: 'Check the path.', cause: e })
    case 'ENOSPC':
      return new EngineError('io', `Cannot ${action} ${file}: the disk is full.`, { file, hint: 'Free some disk space and try again; nothing was changed.', cause: e })
    default:
      return new EngineError('io', `Cannot ${action} ${file}: ${(e as Error)?.message ?? String(e)}`, { file, cause: e })
  }
}
