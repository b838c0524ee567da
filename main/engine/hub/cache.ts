/**
 * The Hugging Face cache, laid out as Python's `huggingface_hub` lays it out so that both share it:
 * `<cache>/models--ORG--NAME/{blobs/<sha>, snapshots/<commit>/<file> → ../../blobs/<sha>, refs/<revision>}`.
 * The cache is `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`.
 */
import { promises as fs } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, relative } from 'node:path'

export const DEFAULT_ENDPOINT = 'https://huggingface.co'

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return env.HF_HOME
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface')
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(hfHome(env), 'hub')
}

/** `HF_ENDPOINT` without a trailing slash, else the public Hub. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '')
}

/** `HF_TOKEN`, else the token `huggingface-cli login` saved (`HF_TOKEN_PATH`, else `HF_HOME/token`). */
export async function hubToken(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const given = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim()
  if (given) return given
  try {
    const saved = (await fs.readFile(env.HF_TOKEN_PATH || join(hfHome(env), 'token'), 'utf8')).trim()
    return saved || undefined
  } catch {
    return undefined
  }
}

/** The folder of one model repository in the cache. */
export function repoCacheDir(cache: string, repo: string): string {
  return join(cache, `models--${repo.split('/').join('--')}`)
}

export interface RepoCache {
  root: string
  blob(sha: string): string
  snapshot(commit: string): string
  ref(revision: string): string
}

export function repoCache(cache: string, repo: string): RepoCache {
  const root = repoCacheDir(cache, repo)
  return {
    root,
    blob: (sha) => join(root, 'blobs', sha),
    snapshot: (commit) => join(root, 'snapshots', commit),
    ref: (revision) => join(root, 'refs', ...revision.split('/')),
  }
}

/** Points `snapshots/<commit>/<file>` at its blob with a relative link, as huggingface_hub does. */
export async function linkSnapshotFile(cache: RepoCache, commit: string, file: string, sha: string): Promise<string> {
  const link = join(cache.snapshot(commit), ...file.split('/'))
  await fs.mkdir(dirname(link), { recursive: true })
  const target = relative(dirname(link), cache.blob(sha))
  try {
    if ((await fs.readlink(link)) === target) return link
  } catch {
    // not there yet (or not a link)
  }
  await fs.rm(link, { force: true })
  try {
    await fs.symlink(target, link)
  } catch {
    // Where links are not allowed (Windows without developer mode), huggingface_hub copies.
    await fs.copyFile(cache.blob(sha), link)
  }
  return link
}

/** Records which commit a branch or tag pointed at (not for a revision that is itself the commit). */
export async function writeRef(cache: RepoCache, revision: string, commit: string): Promise<void> {
  if (revision === commit) return
  const file = cache.ref(revision)
  await fs.mkdir(dirname(file), { recursive: true })
  await fs.writeFile(file, commit)
}

export async function readRef(cache: RepoCache, revision: string): Promise<string | null> {
  try {
    return (await fs.readFile(cache.ref(revision), 'utf8')).trim() || null
  } catch {
    return null
  }
}
