import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Engine } from './engine/api/engine'
import type { WireMessage, WireReply } from './engine/contract'

/**
 * Web mode: the engine behind a server on the loopback interface only, serving the built renderer
 * and the API (a WebSocket for the renderer, plain HTTP POST for scripts). Every request must
 * carry the session token printed at start (query `token`, header `Authorization: Bearer …` or
 * `X-Vernacular-Token`, or the cookie set when the page is first opened); anything else gets 403.
 * For a remote GPU box, forward the port over SSH rather than exposing it.
 */

export const LOOPBACK_HOSTS = ['127.0.0.1', '::1'] as const
export const COOKIE_NAME = 'vernacular_token'
const MAX_BODY_BYTES = 1 << 20

export interface ServerOptions {
  engine: Engine
  /** The built renderer (index.html and assets). */
  staticDir: string
  host?: (typeof LOOPBACK_HOSTS)[number]
  /** 0 picks a free port. */
  port?: number
  /** Fixed token (tests); by default 32 random bytes. */
  token?: string
}

export interface RunningServer {
  url: string
  /** The URL to open, with the token. */
  openUrl: string
  port: number
  token: string
  close(): Promise<void>
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
}

const HTTP_STATUS: Record<string, number> = {
  'invalid-request': 400,
  'unknown-method': 404,
  'not-found': 404,
  'not-a-project': 422,
  'corrupt-manifest': 422,
  'newer-schema': 409,
  'project-exists': 409,
  locked: 409,
  'permission-denied': 403,
  unavailable: 503,
  cancelled: 409,
  io: 500,
  internal: 500,
}

function contentSecurityPolicy(): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

function tokensEqual(given: string | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === COOKIE_NAME) return v.join('=')
  }
  return undefined
}

/** The token a request carries, and whether it came in the URL (then the page sets a cookie). */
function requestToken(req: IncomingMessage, url: URL): { token: string | undefined; fromQuery: boolean } {
  const q = url.searchParams.get('token')
  if (q) return { token: q, fromQuery: true }
  const auth = req.headers.authorization
  if (auth?.startsWith('Bearer ')) return { token: auth.slice(7).trim(), fromQuery: false }
  const header = req.headers['x-vernacular-token']
  if (typeof header === 'string') return { token: header, fromQuery: false }
  return { token: cookieToken(req), fromQuery: false }
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra })
  res.end(body)
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8')
}

const FORBIDDEN_TEXT = 'Forbidden: this request carries no valid session token. Open the URL that `npm run serve` printed (it ends in ?token=…).\n'

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1'
  if (!(LOOPBACK_HOSTS as readonly string[]).includes(host)) {
    throw new Error(`Refusing to listen on ${host}: web mode binds to the loopback interface only. Use an SSH tunnel to reach it from another machine.`)
  }
  const token = opts.token ?? randomBytes(32).toString('base64url')
  const staticRoot = resolve(opts.staticDir)
  const engine = opts.engine
  let port = 0

  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
  const hostAllowed = (req: IncomingMessage) => allowedHosts().has(req.headers.host ?? '')
  const originAllowed = (req: IncomingMessage) => {
    const origin = req.headers.origin
    if (!origin) return true // non-browser clients
    try {
      return allowedHosts().has(new URL(origin).host)
    } catch {
      return false
    }
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL, setCookie: boolean): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed\n', undefined, { Allow: 'GET, HEAD' })
    let rel: string
    try {
      rel = decodeURIComponent(url.pathname)
    } catch {
      return send(res, 400, 'Bad path\n')
    }
    if (rel.endsWith('/')) rel += 'index.html'
    const file = normalize(join(staticRoot, rel))
    if (file !== staticRoot && !file.startsWith(staticRoot + sep)) return send(res, 404, 'Not found\n')
    const stat = await fs.stat(file).catch(() => null)
    if (!stat?.isFile()) {
      if (rel === '/index.html') return send(res, 500, `The renderer is not built: ${join(staticRoot, 'index.html')} is missing. Run \`npm run build\`.\n`)
      return send(res, 404, 'Not found\n')
    }
    const headers: Record<string, string> = {
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(stat.size),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cache-Control': extname(file) === '.html' ? 'no-store' : 'private, max-age=3600',
    }
    if (extname(file) === '.html') headers['Content-Security-Policy'] = contentSecurityPolicy()
    if (setCookie) headers['Set-Cookie'] = `${COOKIE_NAME}=${token}; HttpOnly; SameSite=Strict; Path=/`
    res.writeHead(200, headers)
    if (req.method === 'HEAD') return void res.end()
    createReadStream(file).pipe(res)
  }

  async function handleRpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return send(res, 405, 'Use POST with a JSON body {"id", "method", "params"}.\n', undefined, { Allow: 'POST' })
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return sendJson(res, 415, { kind: 'reply', id: null, ok: false, error: { code: 'invalid-request', message: 'The request body must be JSON (Content-Type: application/json).' } })
    }
    const chunks: Buffer[] = []
    let size = 0
    // Read to the end even when the body is too large (discarding it), so the client gets the answer.
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer)
    }
    if (size > MAX_BODY_BYTES) {
      return sendJson(res, 413, { kind: 'reply', id: null, ok: false, error: { code: 'invalid-request', message: `The request body is larger than ${MAX_BODY_BYTES} bytes.` } })
    }
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch (e) {
      return sendJson(res, 400, { kind: 'reply', id: null, ok: false, error: { code: 'invalid-request', message: `The request body is not valid JSON: ${(e as Error).message}` } })
    }
    const reply = await engine.handle(body)
    sendJson(res, reply.ok ? 200 : (HTTP_STATUS[reply.error.code] ?? 500), reply)
  }

  const server = createServer((req, res) => {
    void (async () => {
      if (!hostAllowed(req)) return send(res, 403, 'Forbidden: unexpected Host header (web mode answers on the loopback address only).\n')
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
      const { token: given, fromQuery } = requestToken(req, url)
      if (!tokensEqual(given, token)) return send(res, 403, FORBIDDEN_TEXT)
      if (url.pathname === '/api/rpc') return handleRpc(req, res)
      if (url.pathname === '/api/health') return sendJson(res, 200, { ok: true, mode: 'web' })
      if (url.pathname.startsWith('/api/')) return send(res, 404, 'No such API endpoint.\n')
      return serveStatic(req, res, url, fromQuery)
    })().catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, `Internal error: ${(e as Error).message}\n`)
      else res.destroy()
    })
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES })
  const clients = new Set<WebSocket>()
  const unsubscribe = engine.onEvent((event) => {
    const data = JSON.stringify({ kind: 'event', event } satisfies WireMessage)
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(data)
  })

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    const reject = (status: number, text: string) => {
      socket.write(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Not Found'}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`)
      socket.destroy()
    }
    if (!hostAllowed(req) || !originAllowed(req)) return reject(403, 'Forbidden: unexpected Host or Origin.\n')
    if (!tokensEqual(requestToken(req, url).token, token)) return reject(403, FORBIDDEN_TEXT)
    if (url.pathname !== '/api/ws') return reject(404, 'No WebSocket here; use /api/ws.\n')
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws)
      ws.on('close', () => clients.delete(ws))
      ws.on('error', () => clients.delete(ws))
      ws.on('message', (data, isBinary) => {
        void (async () => {
          let reply: WireReply
          if (isBinary) {
            reply = { kind: 'reply', id: null, ok: false, error: { code: 'invalid-request', message: 'Binary messages are not part of the API; send JSON text.' } }
          } else {
            let parsed: unknown
            try {
              parsed = JSON.parse(String(data))
            } catch (e) {
              reply = { kind: 'reply', id: null, ok: false, error: { code: 'invalid-request', message: `Not valid JSON: ${(e as Error).message}` } }
              if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply))
              return
            }
            reply = await engine.handle(parsed)
          }
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply satisfies WireMessage))
        })()
      })
    })
  })

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', rejectListen)
      resolveListen()
    })
  })
  port = (server.address() as AddressInfo).port
  const base = `http://${host === '::1' ? '[::1]' : host}:${port}/`
  return {
    url: base,
    openUrl: `${base}?token=${token}`,
    port,
    token,
    async close() {
      unsubscribe()
      for (const ws of clients) ws.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
