/**
 * The Hub client: which files of a model repository we need, at which commit, and fetching them
 * into the cache with progress, cancellation, HTTP-range resume and a checksum for every file.
 * Listing and URLs come from `@huggingface/hub`; the bytes are fetched here, because the library
 * cannot resume a download part-way.
 */
import { createHash } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { dirname, join } from 'node:path'
import { HubApiError, fileDownloadInfo, listFiles, modelInfo } from '@huggingface/hub'
import type { HubDownloadResult, HubFile } from '../contract'
import { EngineError, isEngineError } from '../common/errors'
import { type RepoCache, hubCacheDir, hubEndpoint, hubToken, linkSnapshotFile, repoCache, writeRef } from './cache'

/** The files a model folder needs besides its weights (each taken if the repository has it). */
export const MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json']
export const SAFETENSORS_INDEX = 'model.safetensors.index.json'

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/

export interface HubOptions {
  env?: NodeJS.ProcessEnv
  signal?: AbortSignal
}

export interface HubSession {
  repo: string
  revision: string
  endpoint: string
  token: string | undefined
  cache: string
  signal: AbortSignal | undefined
}

type ListedFile = HubFile & { oid: string }

export interface RepoListing {
  commit: string
  gated: boolean
  /** The files to download, config first, then the tokenizer files, then the weights (an index's shards come with `planDownload`). */
  files: ListedFile[]
  /** Every file of the repository at the commit. */
  all: Map<string, ListedFile>
}

export async function hubSession(repo: string, revision: string | undefined, opts: HubOptions = {}): Promise<HubSession> {
  const env = opts.env ?? process.env
  if (!REPO_ID.test(repo) || repo.includes('..')) throw new EngineError('bad-input', `"${repo}" is not a Hub repository id.`, { hint: 'Give it as ORG/NAME, e.g. openai-community/gpt2.' })
  const token = await hubToken(env)
  if (token !== undefined && !token.startsWith('hf_')) throw new EngineError('bad-input', 'HF_TOKEN does not look like a Hugging Face token (they start with "hf_").', { hint: 'Copy a token from https://huggingface.co/settings/tokens.' })
  return { repo, revision: revision ?? 'main', endpoint: hubEndpoint(env), token, cache: hubCacheDir(env), signal: opts.signal }
}

/** Turns the Hub's refusals into errors that say what to do. */
export function hubError(s: HubSession, e: unknown, what: string): unknown {
  if (isEngineError(e)) return e
  if ((e as Error)?.name === 'AbortError' || s.signal?.aborted) return new EngineError('cancelled', 'The download was cancelled.')
  if (e instanceof HubApiError) {
    // The Hub answers 401 for a repository that does not exist, not to say whether a private one does.
    const code = typeof e.data?.error === 'string' && /Repository Not Found/i.test(e.data.error) ? 'RepoNotFound' : null
    if (code === 'RepoNotFound' && e.statusCode === 401) {
      return new EngineError('not-found', `The Hub has no model ${s.repo} that ${s.token ? 'this token' : 'an anonymous request'} may see (HTTP 401).`, {
        hint: s.token ? `Check the repository id (ORG/NAME); if it is private, the token must belong to an account that may read it.` : `Check the repository id (ORG/NAME); if the model is private, set HF_TOKEN to an access token (https://huggingface.co/settings/tokens) of an account that may read it.`,
      })
    }
    if (e.statusCode === 401 || e.statusCode === 403) {
      return new EngineError('permission-denied', `The Hub refused access to ${s.repo} (HTTP ${e.statusCode}): the model is gated or private${s.token ? ' and this token may not read it' : ' and no token was given'}.`, {
        hint: `Set HF_TOKEN to an access token (https://huggingface.co/settings/tokens) of an account that has accepted the model's licence on its page, ${s.endpoint}/${s.repo}, then try again.`,
      })
    }
    if (e.statusCode === 404) {
      return new EngineError('not-found', s.revision === 'main' ? `The Hub has no model ${s.repo} (${what}: HTTP 404).` : `The Hub has no model ${s.repo} at revision "${s.revision}" (${what}: HTTP 404): the repository or the revision does not exist.`, {
        hint: `Check the repository id (ORG/NAME) and the revision on ${s.endpoint}/${s.repo}.`,
      })
    }
    return new EngineError('unavailable', `The Hub answered HTTP ${e.statusCode} for ${what} of ${s.repo}.`, { hint: 'Try again later.', details: [e.message] })
  }
  if (e instanceof TypeError) return new EngineError('unavailable', `Could not reach the Hub at ${s.endpoint} (${what}): ${(e.cause as Error | undefined)?.message ?? e.message}.`, { hint: 'Check the connection, or HF_ENDPOINT if you set it.' })
  return e
}

function credentials(s: HubSession) {
  return { hubUrl: s.endpoint, ...(s.token ? { accessToken: s.token } : {}), ...(s.signal ? { fetch: (u: Parameters<typeof fetch>[0], init?: RequestInit) => fetch(u, { ...init, signal: s.signal }) } : {}) }
}

/** The commit a revision points at, and the files a model folder needs, with sizes and checksums. */
export async function listRepo(s: HubSession): Promise<RepoListing> {
  let commit: string
  let gated: boolean
  try {
    const info = await modelInfo({ name: s.repo, revision: s.revision, additionalFields: ['sha'], ...credentials(s) })
    if (!info.sha) throw new EngineError('unavailable', `The Hub did not say which commit ${s.repo}@${s.revision} is.`)
    commit = info.sha
    gated = Boolean(info.gated)
  } catch (e) {
    throw hubError(s, e, 'the model info')
  }
  const all = new Map<string, ListedFile>()
  try {
    for await (const f of listFiles({ repo: { type: 'model', name: s.repo }, revision: commit, recursive: true, ...credentials(s) })) {
      if (f.type !== 'file') continue
      all.set(f.path, { path: f.path, bytes: f.lfs?.size ?? f.size, sha256: f.lfs?.oid ?? null, oid: f.lfs?.oid ?? f.oid ?? '' })
    }
  } catch (e) {
    throw hubError(s, e, 'the file list')
  }
  if (!all.has('config.json')) throw new EngineError('bad-input', `${s.repo} has no config.json: it is not a transformers model.`)
  const files = MODEL_FILES.flatMap((f) => all.get(f) ?? [])
  const index = all.get(SAFETENSORS_INDEX)
  if (index) files.push(index)
  else {
    const weights = [...all.values()].filter((f) => f.path.endsWith('.safetensors') && !f.path.includes('/'))
    if (!weights.length) {
      throw new EngineError('bad-input', `${s.repo} has no safetensors weights${[...all.keys()].some((f) => f.endsWith('.bin')) ? ' (only PyTorch .bin files, which Vernacular does not read)' : ''}.`, {
        hint: 'Choose a model that publishes model.safetensors.',
      })
    }
    files.push(...weights)
  }
  for (const f of files) if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(f.oid)) throw new EngineError('unavailable', `The Hub listed ${f.path} without a checksum.`)
  return { commit, gated, files, all }
}

/** The shards a `model.safetensors.index.json` names. */
export async function shardsOf(indexFile: string, all: Map<string, ListedFile> | null): Promise<string[]> {
  const raw = JSON.parse(await fs.readFile(indexFile, 'utf8')) as { weight_map?: Record<string, string> }
  const shards = [...new Set(Object.values(raw.weight_map ?? {}))].sort()
  if (!shards.length) throw new EngineError('bad-input', `${SAFETENSORS_INDEX} names no weight files.`, { file: indexFile })
  for (const shard of shards) {
    if (shard.includes('..') || shard.startsWith('/')) throw new EngineError('bad-input', `${SAFETENSORS_INDEX} names an odd file, ${shard}.`, { file: indexFile })
    if (all && !all.has(shard)) throw new EngineError('bad-input', `${SAFETENSORS_INDEX} names ${shard}, which the repository does not have.`, { file: indexFile })
  }
  return shards
}

/** The sha256 of a file (an LFS file's oid), or the git blob id of a small one. */
async function checksum(file: string, kind: 'sha256' | 'git'): Promise<string> {
  const hash = createHash(kind === 'sha256' ? 'sha256' : 'sha1')
  if (kind === 'git') hash.update(`blob ${(await fs.stat(file)).size}\0`)
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).size
  } catch {
    return null
  }
}

export interface FetchProgress {
  /** Bytes of all files now in the cache (resumed and cached ones included). */
  done: number
  total: number
  /** Bytes fetched over the network in this run. */
  fetched: number
  file: string
}

/**
 * Fetches one file into `blobs/<oid>`: resumes a `.incomplete` left by an earlier run with an HTTP
 * range, checks the whole file against its checksum, and deletes it if the check fails.
 */
async function fetchBlob(s: HubSession, file: ListedFile, blob: string, onBytes: (n: number, network?: boolean) => void): Promise<{ fetched: number; resumedFrom: number }> {
  const partial = `${blob}.incomplete`
  let start = (await sizeOf(partial)) ?? 0
  if (start > file.bytes) {
    await fs.rm(partial, { force: true })
    start = 0
  }
  onBytes(start)
  let resumedFrom = start
  let fetched = 0
  if (start < file.bytes) {
    let url: string
    try {
      const info = await fileDownloadInfo({ repo: { type: 'model', name: s.repo }, path: file.path, revision: s.revision, ...credentials(s) })
      if (!info) throw new EngineError('not-found', `${s.repo} has no ${file.path} at ${s.revision}.`)
      url = info.url
    } catch (e) {
      throw hubError(s, e, file.path)
    }
    let res: Response
    try {
      res = await fetch(url, { headers: { ...(s.token ? { Authorization: `Bearer ${s.token}` } : {}), ...(start > 0 ? { Range: `bytes=${start}-` } : {}) }, ...(s.signal ? { signal: s.signal } : {}) })
    } catch (e) {
      throw hubError(s, e, file.path)
    }
    if (res.status === 401 || res.status === 403 || res.status === 404) throw hubError(s, new HubApiError(url, res.status), file.path)
    if (!res.ok || !res.body) throw new EngineError('unavailable', `The Hub answered HTTP ${res.status} for ${file.path} of ${s.repo}.`, { hint: 'Try again later; the download resumes where it stopped.' })
    if (start > 0 && res.status !== 206) {
      // The server ignored the range: start over.
      onBytes(-start)
      start = 0
      resumedFrom = 0
    }
    const out = await fs.open(partial, start > 0 ? 'a' : 'w')
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await out.write(chunk)
        fetched += chunk.byteLength
        onBytes(chunk.byteLength, true)
      }
    } catch (e) {
      throw (e as Error)?.name === 'AbortError' || s.signal?.aborted
        ? new EngineError('cancelled', 'The download was cancelled; run it again to resume where it stopped.')
        : new EngineError('unavailable', `The download of ${file.path} broke off after ${start + fetched} of ${file.bytes} bytes: ${(e as Error).message}.`, { hint: 'Run the download again: it resumes where it stopped.', cause: e })
    } finally {
      await out.close()
    }
  }
  const got = (await sizeOf(partial)) ?? 0
  if (got !== file.bytes) {
    if (got > file.bytes) await fs.rm(partial, { force: true })
    throw new EngineError('unavailable', `The download of ${file.path} stopped at ${got} of ${file.bytes} bytes.`, { hint: 'Run the download again: it resumes where it stopped.' })
  }
  const kind = file.sha256 ? 'sha256' : 'git'
  const actual = await checksum(partial, kind)
  if (actual !== file.oid) {
    await fs.rm(partial, { force: true })
    throw new EngineError('io', `${file.path} from ${s.repo} failed its checksum: its ${kind === 'sha256' ? 'sha256' : 'git blob id'} is ${actual}, the Hub says ${file.oid}. The bad copy was deleted.`, {
      file: file.path,
      hint: 'Run the download again; if it fails the same way, the file on the Hub or a proxy in between is damaged.',
    })
  }
  await fs.rename(partial, blob)
  return { fetched, resumedFrom }
}

export interface DownloadPlan {
  session: HubSession
  listing: RepoListing
  cache: RepoCache
  /** Every file to download, the shards an index names included. */
  files: ListedFile[]
  totalBytes: number
}

/** Fetches one file into the cache (if it is not there yet) and links it into the commit's snapshot. */
async function ensureFile(plan: DownloadPlan, f: ListedFile, onBytes: (n: number, network?: boolean) => void): Promise<{ fetched: number; resumedFrom: number }> {
  const blob = plan.cache.blob(f.oid)
  let r = { fetched: 0, resumedFrom: 0 }
  if ((await sizeOf(blob)) === f.bytes) onBytes(f.bytes)
  else r = await fetchBlob({ ...plan.session, revision: plan.listing.commit }, f, blob, onBytes)
  await linkSnapshotFile(plan.cache, plan.listing.commit, f.path, f.oid)
  return r
}

/**
 * Lists the repository and fetches its small index (if the weights are sharded) to learn every
 * file and the total size. Later fetches use the commit, so a branch that moves cannot mix two.
 */
export async function planDownload(repo: string, revision: string | undefined, opts: HubOptions = {}): Promise<DownloadPlan> {
  const session = await hubSession(repo, revision, opts)
  const listing = await listRepo(session)
  const cache = repoCache(session.cache, repo)
  await fs.mkdir(join(cache.root, 'blobs'), { recursive: true })
  const plan: DownloadPlan = { session, listing, cache, files: [...listing.files], totalBytes: 0 }
  const index = listing.all.get(SAFETENSORS_INDEX)
  if (index) {
    await ensureFile(plan, index, () => {})
    for (const shard of await shardsOf(plan.cache.blob(index.oid), listing.all)) plan.files.push(listing.all.get(shard)!)
  }
  plan.totalBytes = plan.files.reduce((a, f) => a + f.bytes, 0)
  return plan
}

/** Fetches config.json alone (into the cache), for a look at the model before the weights. */
export async function fetchConfig(plan: DownloadPlan): Promise<string> {
  const f = plan.listing.all.get('config.json')!
  await ensureFile(plan, f, () => {})
  return plan.cache.blob(f.oid)
}

export interface DownloadOptions extends HubOptions {
  onProgress?: (p: FetchProgress) => void
  /** Copy (or hard-link) the snapshot into this folder as a plain model folder. */
  out?: string
}

/** Repositories (their cache folders) being downloaded in this process: two downloads must not write one `.incomplete`. */
const downloading = new Set<string>()
/**
 * Downloads claim their repository one after another, in the order they were asked for (finding
 * the cache folder is asynchronous: without this, a later call could claim it first).
 */
let claims: Promise<unknown> = Promise.resolve()

/** Downloads the model files of `repo` at `revision` into the cache (and `out`, if given). */
export async function downloadModel(repo: string, revision: string | undefined, opts: DownloadOptions = {}): Promise<HubDownloadResult> {
  const claim = claims.then(async () => {
    const s = await hubSession(repo, revision, opts)
    const root = repoCache(s.cache, repo).root
    if (downloading.has(root)) throw new EngineError('locked', `${repo} is already being downloaded.`, { hint: 'Wait for that download to finish, or cancel it.' })
    downloading.add(root)
    return root
  })
  claims = claim.catch(() => undefined)
  const root = await claim
  try {
    return await downloadPlanned(repo, revision, opts)
  } finally {
    downloading.delete(root)
  }
}

async function downloadPlanned(repo: string, revision: string | undefined, opts: DownloadOptions): Promise<HubDownloadResult> {
  const plan = await planDownload(repo, revision, opts)
  const { session: s, listing, cache, files, totalBytes: total } = plan
  let done = 0
  let fetched = 0
  let resumed = 0
  for (const f of files) {
    if (s.signal?.aborted) throw new EngineError('cancelled', 'The download was cancelled; run it again to resume where it stopped.')
    const r = await ensureFile(plan, f, (n, network) => {
      done += n
      if (network) fetched += n
      opts.onProgress?.({ done, total, fetched, file: f.path })
    })
    resumed += r.resumedFrom
  }
  await writeRef(cache, s.revision, listing.commit)
  const snapshot = cache.snapshot(listing.commit)
  let folder = snapshot
  if (opts.out) {
    folder = opts.out
    await fs.mkdir(folder, { recursive: true })
    for (const f of files) {
      const dest = join(folder, ...f.path.split('/'))
      await fs.mkdir(dirname(dest), { recursive: true })
      await fs.rm(dest, { force: true })
      try {
        await fs.link(cache.blob(f.oid), dest)
      } catch {
        await fs.copyFile(cache.blob(f.oid), dest)
      }
    }
  }
  return {
    repo,
    revision: s.revision,
    commit: listing.commit,
    folder,
    snapshot,
    cache: cache.root,
    files: files.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 })),
    totalBytes: total,
    fetchedBytes: fetched,
    resumedBytes: resumed,
  }
}
