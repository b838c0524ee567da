/**
 * What the renderer knows about the link to the engine, whichever transport carries it. The
 * desktop bridge is always `connected`; the WebSocket transport moves between the states.
 */
import type { VernacularApi } from '../../../main/engine/contract'

export type ConnectionState =
  /** The first connection attempt is under way. */
  | 'connecting'
  | 'connected'
  /** The connection was lost (or never made); another attempt follows after a back-off. */
  | 'reconnecting'
  /** The server refused this session (wrong or missing token); retrying will not help. */
  | 'rejected'

export interface ApiConnection {
  readonly state: ConnectionState
  /** Calls `listener` on every change of state; returns the function that stops it. */
  onStateChange(listener: (state: ConnectionState) => void): () => void
  /** Skips the rest of the back-off and tries to connect now (no-op unless `reconnecting`). */
  retryNow(): void
}

/** The API together with the state of the link that carries it. */
export interface ApiClient extends VernacularApi {
  readonly connection: ApiConnection
  /** Closes the transport for good; pending calls are rejected. */
  dispose(): void
}

export const LOST_CONNECTION = {
  code: 'unavailable',
  message: 'Lost the connection to the Vernacular server before it answered.',
  hint: 'Is `npm run serve` still running? Reload the page.',
} as const

export const TOKEN_REJECTED = {
  code: 'unauthorized',
  message: 'The session token is missing or wrong: open the URL printed by `npm run serve`.',
  hint: 'The server prints a URL with `?token=…` when it starts; open that URL in this browser.',
} as const

/** A connection that never changes: the desktop bridge, and fakes in tests. */
export function alwaysConnected(): ApiConnection {
  return {
    state: 'connected',
    onStateChange: () => () => {},
    retryNow: () => {},
  }
}

/** A small observable for transports that do change state; `retry` is what `retryNow` does. */
export function createConnectionState(initial: ConnectionState, retry: () => void): ApiConnection & { set(state: ConnectionState): void } {
  let state = initial
  const listeners = new Set<(state: ConnectionState) => void>()
  return {
    get state() {
      return state
    },
    set(next: ConnectionState) {
      if (next === state) return
      state = next
      for (const listener of [...listeners]) listener(next)
    },
    onStateChange(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    retryNow: retry,
  }
}
