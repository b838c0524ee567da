import { describe, expect, it } from 'vitest'
import { takeSessionToken, TOKEN_STORAGE_KEY, webSocketUrl, type TokenEnvironment } from '../../../renderer/src/api/token'

function environment(search: string, hash = '', stored: Record<string, string> = {}) {
  const storage = new Map(Object.entries(stored))
  const replaced: string[] = []
  const env: TokenEnvironment = {
    location: { pathname: '/', search, hash },
    history: { state: { position: 3 }, replaceState: (_data, _unused, url) => replaced.push(url ?? '') },
    storage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => void storage.set(k, v) },
  }
  return { env, storage, replaced }
}

describe('takeSessionToken', () => {
  it('moves the token from the URL into sessionStorage and out of the address bar, keeping the hash', () => {
    const { env, storage, replaced } = environment('?token=abc123', '#/project/overview?dir=%2Fp')
    expect(takeSessionToken(env)).toBe('abc123')
    expect(storage.get(TOKEN_STORAGE_KEY)).toBe('abc123')
    expect(replaced).toEqual(['/#/project/overview?dir=%2Fp'])
  })

  it('keeps other query parameters', () => {
    const { env, replaced } = environment('?demo=1&token=abc&x=y')
    expect(takeSessionToken(env)).toBe('abc')
    expect(replaced).toEqual(['/?demo=1&x=y'])
  })

  it('reads a stored token when the URL has none, and leaves the URL alone', () => {
    const { env, replaced } = environment('', '#/system', { [TOKEN_STORAGE_KEY]: 'stored' })
    expect(takeSessionToken(env)).toBe('stored')
    expect(replaced).toEqual([])
  })

  it('returns null without a token, or without storage', () => {
    expect(takeSessionToken(environment('').env)).toBeNull()
    const { env } = environment('')
    expect(takeSessionToken({ ...env, storage: null })).toBeNull()
  })
})

describe('webSocketUrl', () => {
  it('uses ws for http and wss for https, with the token encoded', () => {
    expect(webSocketUrl({ protocol: 'http:', host: '127.0.0.1:5317' }, 'a b+c')).toBe('ws://127.0.0.1:5317/api/ws?token=a%20b%2Bc')
    expect(webSocketUrl({ protocol: 'https:', host: 'example.test' }, 't')).toBe('wss://example.test/api/ws?token=t')
    expect(webSocketUrl({ protocol: 'http:', host: 'localhost:1' }, null)).toBe('ws://localhost:1/api/ws')
  })
})
