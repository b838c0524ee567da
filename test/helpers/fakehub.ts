import { createHash } from 'node:crypto'
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A Hugging Face Hub on the loopback interface, for tests without internet: the routes
 * `@huggingface/hub` and our client use (model info with its commit, the tree listing with LFS
 * oids and sizes, resolve with HTTP ranges), gated repositories that answer 401 without the token,
 * 404s with the Hub's error codes, and faults a test asks for (a dropped connection, a flipped byte).
 */
export interface FakeRepoSpec {
  /** ORG/NAME */
  name: string
  /** Files at each commit. */
  commits: Record<string, Record<string, Buffer>>
  /** Branches and tags → commit; `main` is the default. */
  refs: Record<string, string>
  /** Only this token (as `Bearer …`) may read it; others get 401. */
  token?: string
}

export interface FakeRequest {
  method: string
  path: string
  range: string | null
  authorization: string | null
  /** Body bytes sent (for a resolve). */
  sent: number
}

export interface FakeHub {
  url: string
  requests: FakeRequest[]
  /** The next full GET of `file` sends `bytes` bytes and then drops the connection. */
  dropAfter(file: string, bytes: number): void
  /** Every GET of `file` serves its bytes with the one at `offset` flipped. */
  corrupt(file: string, offset: number): void
  /** Answers ranged GETs (other than the 1-byte probe) with the whole file, as some proxies do. */
  ignoreRanges(on: boolean): void
  /** Serves file bodies at about this many bytes a second (null: at once), so a UI can show a download under way. */
  throttle(bytesPerSecond: number | null): void
  close(): Promise<void>
}

export const isLfs = (file: string) => file.endsWith('.safetensors')
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
export const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex')

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

/** `anonymousMissing: 401`: a missing repository answers 401 "Repository Not Found" to a request without a token, as the real Hub does. */
export async function startFakeHub(repos: FakeRepoSpec[], opts: { anonymousMissing?: 401 | 404 } = {}): Promise<FakeHub> {
  const requests: FakeRequest[] = []
  const drops = new Map<string, number>()
  const corrupt = new Map<string, number>()
  const byName = new Map(repos.map((r) => [r.name, r]))
  let rate: number | null = null
  let noRanges = false

  function sendSlowly(res: ServerResponse, body: Buffer, record: FakeRequest, bytesPerSecond: number): void {
    const chunk = 4096
    let at = 0
    const next = () => {
      if (res.destroyed) return
      if (at >= body.length) return void res.end()
      const part = body.subarray(at, at + chunk)
      at += part.length
      record.sent = at
      res.write(part)
      setTimeout(next, (part.length / bytesPerSecond) * 1000)
    }
    next()
  }

  function handle(req: IncomingMessage, res: ServerResponse, record: FakeRequest): void {
    const url = new URL(req.url ?? '/', 'http://x')
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
    const api = parts[0] === 'api' && parts[1] === 'models'
    const [org, name, route, rev, ...rest] = api ? parts.slice(2) : parts
    const repo = byName.get(`${org}/${name}`)
    if (!repo) return json(res, opts.anonymousMissing === 401 && !req.headers.authorization ? 401 : 404, { error: 'Repository Not Found' }, { 'X-Error-Code': 'RepoNotFound' })
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      return json(res, 401, { error: `Access to model ${repo.name} is restricted. You must have access to it and be authenticated to access it. Please log in.` }, { 'X-Error-Code': 'GatedRepo' })
    }
    const commit = rev === undefined ? undefined : (repo.refs[rev] ?? (repo.commits[rev] ? rev : undefined))
    if (!commit) return json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' })
    const files = repo.commits[commit]!
    if (api && route === 'revision') {
      return json(res, 200, {
        _id: `id-${repo.name}`,
        id: repo.name,
        private: Boolean(repo.token),
        gated: repo.token ? 'manual' : false,
        downloads: 0,
        likes: 0,
        lastModified: '2026-01-01T00:00:00.000Z',
        pipeline_tag: 'text-generation',
        sha: commit,
        siblings: Object.keys(files).map((rfilename) => ({ rfilename })),
      })
    }
    if (api && route === 'tree') {
      return json(
        res,
        200,
        Object.entries(files).map(([path, data]) => ({
          type: 'file',
          path,
          size: data.length,
          oid: gitOid(isLfs(path) ? Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\nsize ${data.length}\n`) : data),
          ...(isLfs(path) ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {}),
        })),
      )
    }
    if (!api && route === 'resolve') {
      const file = rest.join('/')
      const stored = files[file]
      if (!stored) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' })
      let data = stored
      const flip = corrupt.get(file)
      if (flip !== undefined) {
        data = Buffer.from(stored)
        data[flip] = data[flip]! ^ 0xff
      }
      const etag = `"${isLfs(file) ? sha256(stored) : gitOid(stored)}"`
      const headers: Record<string, string> = { ETag: etag, 'X-Repo-Commit': commit, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' }
      const asked = req.headers.range ?? ''
      const m = noRanges && asked !== 'bytes=0-0' ? null : /^bytes=(\d+)-(\d*)$/.exec(asked)
      let start = 0
      let end = data.length - 1
      if (m) {
        start = Number(m[1])
        end = m[2] ? Math.min(Number(m[2]), end) : end
        if (start > end) {
          res.writeHead(416, { 'Content-Range': `bytes */${data.length}` })
          return void res.end()
        }
      }
      const body = data.subarray(start, end + 1)
      res.writeHead(m ? 206 : 200, { ...headers, 'Content-Length': String(body.length), ...(m ? { 'Content-Range': `bytes ${start}-${end}/${data.length}` } : {}) })
      const drop = drops.get(file)
      if (drop !== undefined && body.length > 1) {
        drops.delete(file)
        record.sent = Math.min(drop, body.length)
        res.write(body.subarray(0, record.sent), () => setTimeout(() => res.socket?.destroy(), 20))
        return
      }
      if (rate !== null && body.length > 1) return sendSlowly(res, body, record, rate)
      record.sent = body.length
      return void res.end(body)
    }
    json(res, 404, { error: 'Not found' })
  }

  const server = createServer((req, res) => {
    const record: FakeRequest = { method: req.method ?? 'GET', path: req.url ?? '/', range: req.headers.range ?? null, authorization: req.headers.authorization ?? null, sent: 0 }
    requests.push(record)
    handle(req, res, record)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    dropAfter: (file, bytes) => void drops.set(file, bytes),
    corrupt: (file, offset) => void corrupt.set(file, offset),
    ignoreRanges: (on) => void (noRanges = on),
    throttle: (bytesPerSecond) => void (rate = bytesPerSecond),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
