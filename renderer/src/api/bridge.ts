/**
 * The desktop transport: the preload exposes a `PreloadBridge` on `window.vernacular`, which
 * carries requests over Electron IPC and hands back `WireReply` values (errors travel as values).
 */
import { ApiError, type MethodName, type ParamsIn, type PreloadBridge, type Result, type WireReply } from '../../../main/engine/contract'
import { alwaysConnected, type ApiClient } from './connection'

export function createBridgeApi(bridge: PreloadBridge): ApiClient {
  return {
    connection: alwaysConnected(),
    async call<M extends MethodName>(method: M, params: ParamsIn<M>): Promise<Result<M>> {
      let reply: WireReply
      try {
        reply = await bridge.invoke(method, params)
      } catch (e) {
        // IPC itself failed (the main process is gone or the channel is not wired): not an engine error.
        throw new ApiError({
          code: 'unavailable',
          message: `The Vernacular engine did not answer "${method}": ${e instanceof Error ? e.message : String(e)}`,
          hint: 'Restart Vernacular; if it happens again, report it with the log.',
        })
      }
      if (!reply.ok) throw new ApiError(reply.error)
      // The engine produced the result for this method; the contract types it.
      return reply.result as Result<M>
    },
    onEvent(listener) {
      return bridge.onEvent(listener)
    },
    dispose() {},
  }
}
