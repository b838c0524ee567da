/**
 * The web transport: one WebSocket to the loopback server (`npm run serve`), carrying
 * `WireRequest` frames out and `WireMessage` frames (replies and events) back.
 *
 * - Calls wait in `pending` until their reply arrives; calls made before the socket is open are
 *   queued and sent when it opens.
 * - When the socket closes, every waiting call is rejected with an `unavailable` ApiError and the
 *   transport reconnects with an exponential back-off.
 * - Close code 4401/4403, or an upgrade refused by a server that otherwise answers HTTP, means
 *   the session token is wrong: the state becomes `rejected` and no further attempts are made.
 *
 * The socket itself comes from a factory, so tests drive this module with a fake.
 */
import { ApiError, type EngineEvent, type MethodName, type ParamsIn, type Result, type WireError, type WireMessage, type WireRequest } from '../../../main/engine/contract'
import { createConnectionState, LOST_CONNECTION, TOKEN_REJECTED, type ApiClient } from './connection'

/** What the transport needs to hear from a socket. */
export interface SocketHandlers {
  open(): void
  message(data: string): void
  /** `code` is the WebSocket close code; 1006 when the connection failed or the upgrade was refused. */
  close(code: number, reason: string): void
}

export interface Socket {
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** Opens a new socket that reports to `handlers`. Called once per connection attempt. */
export type SocketFactory = (handlers: SocketHandlers) => Socket

export interface WsApiOptions {
  /** Delay before the first reconnect attempt, doubled after each failure. */
  initialDelayMs?: number
  /** The longest delay between attempts. */
  maxDelayMs?: number
  /**
   * Whether the server answers plain HTTP. Browsers do not say why a WebSocket upgrade failed;
   * if the server is up but the socket fails before opening (twice in a row), the upgrade was
   * refused, which the server does when the token is wrong.
   */
  serverReachable?: () => Promise<boolean>
}

/** Close codes the server uses when the session token is missing or wrong. */
export const REJECTED_CLOSE_CODES: readonly number[] = [4401, 4403]

const CLOSED_BY_CLIENT: WireError = { code: 'unavailable', message: 'The connection to the Vernacular server was closed.' }

interface PendingCall {
  frame: string
  resolve(result: unknown): void
  reject(error: ApiError): void
}

interface Attempt {
  socket: Socket | null
  opened: boolean
}

export function createWsApi(openSocket: SocketFactory, options: WsApiOptions = {}): ApiClient {
  const initialDelayMs = options.initialDelayMs ?? 500
  const maxDelayMs = options.maxDelayMs ?? 10_000

  const connection = createConnectionState('connecting', retryNow)
  const listeners = new Set<(event: EngineEvent) => void>()
  const pending = new Map<number | string, PendingCall>()
  let nextId = 1
  let attempt: Attempt | null = null
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  let delayMs = initialDelayMs
  let refusedInARow = 0
  let disposed = false

  function connect(): void {
    retryTimer = null
    const current: Attempt = { socket: null, opened: false }
    attempt = current
    const socket = openSocket({
      open() {
        if (attempt !== current) return
        current.opened = true
        delayMs = initialDelayMs
        refusedInARow = 0
        connection.set('connected')
        flush()
      },
      message(data) {
        if (attempt === current) receive(data)
      },
      close(code) {
        if (attempt !== current) return
        attempt = null
        void lost(code, current.opened)
      },
    })
    current.socket = socket
    if (current.opened) flush()
  }

  function isOpen(): boolean {
    return attempt !== null && attempt.opened && attempt.socket !== null
  }

  function flush(): void {
    for (const call of pending.values()) attempt?.socket?.send(call.frame)
  }

  async function lost(code: number, opened: boolean): Promise<void> {
    rejectAll(LOST_CONNECTION)
    if (disposed) return
    if (REJECTED_CLOSE_CODES.includes(code)) return reject()
    if (!opened && options.serverReachable) {
      const reachable = await options.serverReachable().catch(() => false)
      if (disposed) return
      refusedInARow = reachable ? refusedInARow + 1 : 0
      if (refusedInARow >= 2) return reject()
    }
    connection.set('reconnecting')
    retryTimer = setTimeout(connect, delayMs)
    delayMs = Math.min(delayMs * 2, maxDelayMs)
  }

  function reject(): void {
    connection.set('rejected')
    rejectAll(TOKEN_REJECTED)
  }

  function retryNow(): void {
    if (retryTimer === null) return
    clearTimeout(retryTimer)
    connect()
  }

  function rejectAll(error: WireError): void {
    const calls = [...pending.values()]
    pending.clear()
    for (const call of calls) call.reject(new ApiError(error))
  }

  function receive(data: string): void {
    const message = parseMessage(data)
    if (message === null) {
      console.warn('Vernacular: ignoring a message from the server that is not a WireMessage:', data.slice(0, 200))
      return
    }
    if (message.kind === 'event') {
      for (const listener of [...listeners]) {
        try {
          listener(message.event)
        } catch (e) {
          console.error('Vernacular: an event listener failed:', e)
        }
      }
      return
    }
    if (message.id === null) {
      // The server could not read a request well enough to know its id; nothing waits for this.
      if (!message.ok) console.warn('Vernacular: the server rejected a request:', message.error.message)
      return
    }
    const call = pending.get(message.id)
    if (!call) return
    pending.delete(message.id)
    if (message.ok) call.resolve(message.result)
    else call.reject(new ApiError(message.error))
  }

  connect()

  return {
    connection,
    call<M extends MethodName>(method: M, params: ParamsIn<M>): Promise<Result<M>> {
      if (disposed) return Promise.reject(new ApiError(CLOSED_BY_CLIENT))
      if (connection.state === 'rejected') return Promise.reject(new ApiError(TOKEN_REJECTED))
      const id = nextId++
      const request: WireRequest = { id, method, params }
      const frame = JSON.stringify(request)
      return new Promise<Result<M>>((resolve, reject) => {
        // The server answers this id with the result of `method`, which the contract types.
        pending.set(id, { frame, resolve: (result) => resolve(result as Result<M>), reject })
        if (isOpen()) attempt?.socket?.send(frame)
        else retryNow() // waiting out a back-off: a user action is a good reason to try again now
      })
    },
    onEvent(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    dispose() {
      if (disposed) return
      disposed = true
      if (retryTimer !== null) clearTimeout(retryTimer)
      retryTimer = null
      const socket = attempt?.socket
      attempt = null
      socket?.close(1000, 'closed by the client')
      rejectAll(CLOSED_BY_CLIENT)
    },
  }
}

/** Parses one frame; null when it is not JSON or not shaped like a `WireMessage`. */
export function parseMessage(data: string): WireMessage | null {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null || !('kind' in value)) return null
  if (value.kind === 'event') {
    return 'event' in value && typeof value.event === 'object' && value.event !== null ? (value as WireMessage) : null
  }
  if (value.kind === 'reply' && 'id' in value && 'ok' in value) {
    const idOk = typeof value.id === 'number' || typeof value.id === 'string' || value.id === null
    if (!idOk) return null
    if (value.ok === true) return value as WireMessage
    if (value.ok === false && 'error' in value && isWireError(value.error)) return value as WireMessage
  }
  return null
}

function isWireError(value: unknown): value is WireError {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value && typeof value.code === 'string' && typeof value.message === 'string'
}
