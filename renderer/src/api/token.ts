/**
 * The web-mode session token. `npm run serve` prints a URL with `?token=…`; the first page load
 * moves the token into sessionStorage and out of the address bar (so it is not bookmarked or
 * shared by accident), and later loads of the same tab read it back from there.
 */

export const TOKEN_STORAGE_KEY = 'vernacular.token'

/** The parts of `window` this module touches, so tests can pass plain objects. */
export interface TokenEnvironment {
  location: { pathname: string; search: string; hash: string }
  history: { readonly state: unknown; replaceState(data: unknown, unused: string, url?: string): void }
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void } | null
}

/** Returns the session token (or null), moving it from the URL into storage if it is there. */
export function takeSessionToken(env: TokenEnvironment): string | null {
  const params = new URLSearchParams(env.location.search)
  const fromUrl = params.get('token')
  if (fromUrl) {
    env.storage?.setItem(TOKEN_STORAGE_KEY, fromUrl)
    params.delete('token')
    const search = params.toString()
    env.history.replaceState(env.history.state, '', `${env.location.pathname}${search ? `?${search}` : ''}${env.location.hash}`)
    return fromUrl
  }
  return env.storage?.getItem(TOKEN_STORAGE_KEY) ?? null
}

/** The WebSocket endpoint of the server that served this page. */
export function webSocketUrl(location: { protocol: string; host: string }, token: string | null): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  const query = token ? `?token=${encodeURIComponent(token)}` : ''
  return `${scheme}://${location.host}/api/ws${query}`
}
