/**
 * Picks the transport for this window: the preload bridge in the desktop app, a WebSocket to the
 * loopback server in web mode. The only module of the API layer that touches browser globals.
 */
import { createBridgeApi } from './bridge'
import type { ApiClient } from './connection'
import { takeSessionToken, webSocketUrl, type TokenEnvironment } from './token'
import { createWsApi, type SocketFactory } from './ws'

export function connectFromBrowser(): ApiClient {
  if (window.vernacular) return createBridgeApi(window.vernacular)
  const token = takeSessionToken({ location: window.location, history: window.history, storage: sessionStorageOrNull() })
  return createWsApi(browserSockets(webSocketUrl(window.location, token)), { serverReachable })
}

function browserSockets(url: string): SocketFactory {
  return (handlers) => {
    const ws = new WebSocket(url)
    ws.addEventListener('open', () => handlers.open())
    ws.addEventListener('message', (event: MessageEvent<unknown>) => {
      if (typeof event.data === 'string') handlers.message(event.data)
    })
    ws.addEventListener('close', (event) => handlers.close(event.code, event.reason))
    return {
      send: (data) => ws.send(data),
      close: (code, reason) => ws.close(code, reason),
    }
  }
}

/** Any HTTP answer from the page's own server counts; only a network failure means it is down. */
async function serverReachable(): Promise<boolean> {
  try {
    await fetch(`${window.location.origin}${window.location.pathname}`, { method: 'HEAD', cache: 'no-store' })
    return true
  } catch {
    return false
  }
}

function sessionStorageOrNull(): TokenEnvironment['storage'] {
  try {
    return window.sessionStorage
  } catch {
    return null // storage disabled by the browser's settings
  }
}
