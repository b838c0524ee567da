/**
 * The API as the rest of the renderer sees it. `main.ts` installs a client once at startup
 * (`connectFromBrowser()` picks the transport); stores and views call `getApi()` and cannot tell
 * IPC from WebSocket. Tests install a fake.
 */
import type { VernacularApi } from '../../../main/engine/contract'
import type { ApiClient, ApiConnection } from './connection'

let installed: ApiClient | null = null

/** Makes `client` the API of this renderer, disposing any earlier one. */
export function installApi(client: ApiClient): void {
  if (installed && installed !== client) installed.dispose()
  installed = client
}

export function getApi(): VernacularApi {
  return client()
}

export function getConnection(): ApiConnection {
  return client().connection
}

function client(): ApiClient {
  if (!installed) throw new Error('No Vernacular API is installed: call installApi() before using stores.')
  return installed
}
