import { promises as fs } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { Engine } from '../../main/engine/api/engine'
import type { WireMessage } from '../../main/engine/contract'
import { startServer, type RunningServer } from '../../main/server'
import { useTmp } from '../helpers/tmp'

const tmp = useTmp()
let running: { server: RunningServer; engine: Engine } | null = null

afterEach(async () => {
  await running?.server.close()
  await running?.engine.close()
  running = null
})

async function start() {
  const staticDir = tmp()
  await fs.mkdir(join(staticDir, 'assets'))
  await fs.writeFile(join(staticDir, 'index.html'), '<!doctype html><title>Vernacular</title>')
  await fs.writeFile(join(staticDir, 'assets', 'app.js'), 'console.log(1)')
  await fs.writeFile(join(tmp(), 'secret.txt'), 'secret')
  const engine = new Engine({ mode: 'web', home: tmp() })
  const server = await startServer({ engine, staticDir })
  running = { server, engine }
  return server
}

/** A raw HTTP GET, so that the Host header can be anything. */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function openWs(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

function nextMessage(ws: WebSocket, pred: (m: WireMessage) => boolean): Promise<WireMessage> {
  return new Promise((resolve) => {
    const on = (data: WebSocket.RawData) => {
      const m = JSON.parse(String(data)) as WireMessage
      if (pred(m)) {
        ws.off('message', on)
        resolve(m)
      }
    }
    ws.on('message', on)
  })
}

describe('web mode server', () => {
  it('listens on 127.0.0.1 only and refuses other interfaces', async () => {
    const server = await start()
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect(server.token.length).toBeGreaterThanOrEqual(40)
    await expect(startServer({ engine: running!.engine, staticDir: tmp(), host: '0.0.0.0' as '127.0.0.1' })).rejects.toThrow(/loopback/)
  })

  it('serves the page only with the token and then sets a strict cookie', async () => {
    const server = await start()
    expect((await fetch(server.url)).status).toBe(403)
    expect((await fetch(`${server.url}?token=wrong`)).status).toBe(403)
    expect(await (await fetch(`${server.url}?token=wrong`)).text()).toContain('npm run serve')
    const page = await fetch(server.openUrl)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<title>Vernacular</title>')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    const cookie = page.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    const asset = await fetch(`${server.url}assets/app.js`, { headers: { cookie: cookie.split(';')[0] as string } })
    expect(asset.status).toBe(200)
    expect(asset.headers.get('content-type')).toContain('javascript')
    expect((await fetch(`${server.url}assets/app.js`)).status).toBe(403)
  })

  it('does not serve files outside the renderer folder', async () => {
    const server = await start()
    const r = await rawGet(server.port, `/%2e%2e/%2e%2e/secret.txt?token=${server.token}`, { host: `127.0.0.1:${server.port}` })
    expect(r.status).toBe(404)
    expect(r.body).not.toContain('secret')
  })

  it('rejects a foreign Host header (DNS rebinding) even with the token', async () => {
    const server = await start()
    expect((await rawGet(server.port, `/?token=${server.token}`, { host: `evil.example:${server.port}` })).status).toBe(403)
    expect((await rawGet(server.port, `/?token=${server.token}`, { host: `localhost:${server.port}` })).status).toBe(200)
  })

  it('answers HTTP API calls with a bearer token and validates them', async () => {
    const server = await start()
    const call = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}api/rpc`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}`, ...headers }, body })
    const ok = await call(JSON.stringify({ id: 1, method: 'app.info', params: {} }))
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ id: 1, ok: true, result: { name: 'Vernacular', mode: 'web' } })

    const dir = join(tmp(), 'http-project')
    const created = await call(JSON.stringify({ id: 2, method: 'project.create', params: { dir, name: 'Via HTTP', language: 'hu' } }))
    expect(created.status).toBe(200)
    expect(JSON.parse(await fs.readFile(join(dir, 'vernacular.json'), 'utf8')).name).toBe('Via HTTP')

    const wrongShape = await call(JSON.stringify({ id: 3, method: 'project.create', params: { dir: 42 } }))
    expect(wrongShape.status).toBe(400)
    expect(await wrongShape.json()).toMatchObject({ ok: false, error: { code: 'invalid-request' } })
    const exists = await call(JSON.stringify({ id: 4, method: 'project.create', params: { dir, name: 'Again', language: 'hu' } }))
    expect(exists.status).toBe(409)
    expect((await call('{"id": 5,')).status).toBe(400)
    expect((await call('x'.repeat(2 << 20))).status).toBe(413)
    expect((await call('{}', { 'content-type': 'text/plain' })).status).toBe(415)
    expect((await fetch(`${server.url}api/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(403)
  })

  it('carries calls and events over the WebSocket with the token, and refuses it without', async () => {
    const server = await start()
    const wsUrl = `ws://127.0.0.1:${server.port}/api/ws`
    await expect(openWs(wsUrl)).rejects.toThrow('HTTP 403')
    await expect(openWs(`${wsUrl}?token=nope`)).rejects.toThrow('HTTP 403')
    await expect(openWs(`${wsUrl}?token=${server.token}`, { origin: 'https://evil.example' })).rejects.toThrow('HTTP 403')

    const ws = await openWs(`${wsUrl}?token=${server.token}`, { origin: `http://127.0.0.1:${server.port}` })
    const dir = join(tmp(), 'ws-project')
    const event = nextMessage(ws, (m) => m.kind === 'event')
    const reply = nextMessage(ws, (m) => m.kind === 'reply' && m.id === 'a')
    ws.send(JSON.stringify({ id: 'a', method: 'project.create', params: { dir, name: 'Via WS', language: 'th' } }))
    expect(await reply).toMatchObject({ ok: true, result: { dir, manifest: { name: 'Via WS', language: 'th' } } })
    expect(await event).toMatchObject({ kind: 'event', event: { type: 'project', dir } })

    const bad = nextMessage(ws, (m) => m.kind === 'reply')
    ws.send('{oops')
    expect(await bad).toMatchObject({ ok: false, id: null, error: { code: 'invalid-request', message: expect.stringContaining('Not valid JSON') } })
    const invalid = nextMessage(ws, (m) => m.kind === 'reply')
    ws.send(JSON.stringify({ id: 9, method: 'project.rename', params: { dir } }))
    expect(await invalid).toMatchObject({ id: 9, ok: false, error: { code: 'invalid-request', message: expect.stringContaining('name') } })
    ws.close()
  })
})
