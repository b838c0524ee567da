import { ApiError } from '../../main/engine/contract'

/** An error in the words the UI shows: what happened, and what to do when the engine said. */
export interface DisplayError {
  code: string | null
  message: string
  hint: string | null
}

export function describeError(error: unknown): DisplayError {
  if (error instanceof ApiError) return { code: error.code, message: error.message, hint: error.hint ?? null }
  if (error instanceof Error) return { code: null, message: error.message, hint: null }
  return { code: null, message: String(error), hint: null }
}
