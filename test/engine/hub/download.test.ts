import { existsSync, promises as fs } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import { isEngineError } from '../../../main/engine/common/errors'
import { downloadModel } from '../../../main/engine/hub/client'
import { parseModelConfig } from '../../../main/engine/model/config'
import { writeInitialisedModel } from '../../../main/engine/model/init'
import { parameterCount } from '../../../main/engine/model/memory'
import { openCheckpoint } from '../../../main/engine/model/checkpoint'
import { type FakeHub, gitOid, sha256, startFakeHub } from '../../helpers/fakehub'
import { useTmp } from '../../helpers/tmp'
import { TOKENIZER_FILES } from '../tokenizer/fixtures'

// `model download` against a Hub on the loopback interface (test/helpers/fakehub.ts): nothing here
// reaches outside the machine.
const tmp = useTmp()
const GPT2 = { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50257, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 128, bos_token_id: 50256, eos_token_id: 50256 }
const COMMIT_A = 'a'.repeat(40)
const COMMIT_B = 'b'.repeat(40)

async function tinyModel(config: Record<string, unknown>): Promise<Record<string, Buffer>> {
  const dir = join(tmp(), 'model')
  await writeInitialisedModel(dir, parseModelConfig(config, 'config.json'), { seed: 1, dtype: 'F16' })
  const files: Record<string, Buffer> = {}
  for (const f of await fs.readdir(dir)) files[f] = await fs.readFile(join(dir, f))
  files['tokenizer.json'] = await fs.readFile(TOKENIZER_FILES.gpt2)
  files['tokenizer_config.json'] = Buffer.from(JSON.stringify({ model_max_length: 128 }))
  files['README.md'] = Buffer.from('# not downloaded\n')
  return files
}

let hub: FakeHub
let v1: Record<string, Buffer>
let v2: Record<string, Buffer>
let home: string

beforeEach(async () => {
  v1 = await tinyModel(GPT2)
  v2 = await tinyModel({ ...GPT2, n_layer: 2 })
  const shard1 = Buffer.alloc(3000, 1)
  const shard2 = Buffer.alloc(2000, 2)
  hub = await startFakeHub([
    { name: 'org/tiny', commits: { [COMMIT_A]: v1, [COMMIT_B]: v2 }, refs: { main: COMMIT_B, v1: COMMIT_A } },
    { name: 'org/gated', commits: { [COMMIT_A]: v1 }, refs: { main: COMMIT_A }, token: 'hf_secret' },
    {
      name: 'org/sharded',
      commits: {
        [COMMIT_A]: {
          'config.json': v1['config.json']!,
          'model.safetensors.index.json': Buffer.from(JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' } })),
          'model-00001-of-00002.safetensors': shard1,
          'model-00002-of-00002.safetensors': shard2,
          'pytorch_model.bin': Buffer.alloc(10),
        },
      },
      refs: { main: COMMIT_A },
    },
  ])
  home = tmp()
})

afterEach(async () => {
  vi.unstubAllEnvs()
  await hub.close()
})

const env = (extra: Record<string, string> = {}) => ({ HF_HOME: home, HF_ENDPOINT: hub.url, ...extra })
const repoDir = () => join(home, 'hub', 'models--org--tiny')

async function failure(p: Promise<unknown>) {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  )
  if (!isEngineError(e)) throw new Error(`expected an EngineError, got ${String(e)}`)
  return e
}

describe('model download from a fake Hub', () => {
  it('downloads the model files into the huggingface_hub cache layout, byte for byte', async () => {
    const r = await downloadModel('org/tiny', undefined, { env: env() })
    const want = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']
    expect(r.files.map((f) => f.path)).toEqual(want)
    expect(r).toMatchObject({ repo: 'org/tiny', revision: 'main', commit: COMMIT_B, folder: join(repoDir(), 'snapshots', COMMIT_B), resumedBytes: 0 })
    expect(r.totalBytes).toBe(want.reduce((a, f) => a + v2[f]!.length, 0))
    expect(r.fetchedBytes).toBe(r.totalBytes)
    expect(r.files.find((f) => f.path === 'model.safetensors')?.sha256).toBe(sha256(v2['model.safetensors']!))
    for (const f of want) {
      const link = join(r.folder, f)
      expect((await fs.lstat(link)).isSymbolicLink()).toBe(true)
      const blob = f.endsWith('.safetensors') ? sha256(v2[f]!) : gitOid(v2[f]!)
      expect(await fs.readlink(link)).toBe(join('..', '..', 'blobs', blob))
      expect(sha256(await fs.readFile(link))).toBe(sha256(v2[f]!))
    }
    expect(existsSync(join(r.folder, 'README.md'))).toBe(false)
    expect((await fs.readFile(join(repoDir(), 'refs', 'main'), 'utf8')).trim()).toBe(COMMIT_B)
    expect((await fs.readdir(join(repoDir(), 'blobs'))).filter((f) => f.endsWith('.incomplete'))).toEqual([])
    expect((await openCheckpoint(r.folder)).config.numLayers).toBe(2)
    // Everything is cached now: a second download fetches nothing.
    const before = hub.requests.filter((q) => q.path.includes('/resolve/')).length
    const again = await downloadModel('org/tiny', undefined, { env: env() })
    expect(again.fetchedBytes).toBe(0)
    expect(hub.requests.filter((q) => q.path.includes('/resolve/')).length).toBe(before)
  })

  it('resumes a download that broke off with an HTTP range, without fetching the first part again', async () => {
    const size = v2['model.safetensors']!.length
    hub.dropAfter('model.safetensors', 300_000)
    const e = await failure(downloadModel('org/tiny', undefined, { env: env() }))
    expect(e.code).toBe('unavailable')
    expect(e.message).toMatch(/model\.safetensors broke off/)
    const partial = join(repoDir(), 'blobs', `${sha256(v2['model.safetensors']!)}.incomplete`)
    const kept = (await fs.stat(partial)).size
    expect(kept).toBeGreaterThan(0)
    expect(kept).toBeLessThanOrEqual(300_000)
    expect(existsSync(join(repoDir(), 'snapshots', COMMIT_B, 'model.safetensors'))).toBe(false)

    const seen = hub.requests.length
    const r = await downloadModel('org/tiny', undefined, { env: env() })
    const gets = hub.requests.slice(seen).filter((q) => q.path.endsWith('/model.safetensors') && q.range !== 'bytes=0-0')
    expect(gets).toHaveLength(1)
    expect(gets[0]!.range).toBe(`bytes=${kept}-`)
    expect(gets[0]!.sent).toBe(size - kept)
    expect(r.resumedBytes).toBe(kept)
    expect(r.fetchedBytes).toBe(size - kept)
    expect(sha256(await fs.readFile(join(r.folder, 'model.safetensors')))).toBe(sha256(v2['model.safetensors']!))
    expect(existsSync(partial)).toBe(false)
  })

  it('starts a file over when the server ignores the range', async () => {
    hub.dropAfter('model.safetensors', 300_000)
    await failure(downloadModel('org/tiny', undefined, { env: env() }))
    hub.ignoreRanges(true)
    const seen = hub.requests.length
    const r = await downloadModel('org/tiny', undefined, { env: env() })
    const gets = hub.requests.slice(seen).filter((q) => q.path.endsWith('/model.safetensors') && q.range !== 'bytes=0-0')
    expect(gets.map((q) => q.range)).toEqual([expect.stringMatching(/^bytes=[1-9]\d*-$/)])
    expect(gets[0]!.sent).toBe(v2['model.safetensors']!.length)
    expect(r.fetchedBytes).toBe(v2['model.safetensors']!.length)
    expect(r.resumedBytes).toBe(0)
    expect(sha256(await fs.readFile(join(r.folder, 'model.safetensors')))).toBe(sha256(v2['model.safetensors']!))
  })

  it('detects a flipped byte, names the file and leaves nothing bad behind', async () => {
    hub.corrupt('model.safetensors', 1000)
    const e = await failure(downloadModel('org/tiny', undefined, { env: env() }))
    expect(e.code).toBe('io')
    expect(e.message).toContain('model.safetensors')
    expect(e.message).toContain('checksum')
    expect(e.message).toContain(sha256(v2['model.safetensors']!))
    const blobs = await fs.readdir(join(repoDir(), 'blobs'))
    expect(blobs.some((b) => b.startsWith(sha256(v2['model.safetensors']!)))).toBe(false)
    expect(existsSync(join(repoDir(), 'snapshots', COMMIT_B, 'model.safetensors'))).toBe(false)
    expect(existsSync(join(repoDir(), 'refs', 'main'))).toBe(false)
  })

  it('reports a gated model without a token (401) and a missing repository or revision (404) clearly', async () => {
    const gated = await failure(downloadModel('org/gated', undefined, { env: env() }))
    expect(gated.code).toBe('permission-denied')
    expect(gated.message).toMatch(/org\/gated .*HTTP 401.*gated or private/)
    expect(gated.hint).toMatch(/HF_TOKEN/)
    expect(gated.hint).toMatch(/accepted the model's licence/)
    const withToken = await downloadModel('org/gated', undefined, { env: env({ HF_TOKEN: 'hf_secret' }) })
    expect(withToken.commit).toBe(COMMIT_A)
    expect(hub.requests.filter((q) => q.path.includes('org/gated')).every((q) => q.authorization === null || q.authorization === 'Bearer hf_secret')).toBe(true)

    const missing = await failure(downloadModel('org/nothing', undefined, { env: env() }))
    expect(missing.code).toBe('not-found')
    expect(missing.message).toMatch(/no model org\/nothing/)
    const badRev = await failure(downloadModel('org/tiny', 'v9', { env: env() }))
    expect(badRev.code).toBe('not-found')
    expect(badRev.message).toMatch(/revision "v9"/)
  })

  it('reports the real Hub\'s 401 for a repository that does not exist as missing, with the token hint', async () => {
    const strict = await startFakeHub([], { anonymousMissing: 401 })
    try {
      const e = await failure(downloadModel('org/private-or-not', undefined, { env: { HF_HOME: home, HF_ENDPOINT: strict.url } }))
      expect(e.code).toBe('not-found')
      expect(e.message).toMatch(/no model org\/private-or-not that an anonymous request may see \(HTTP 401\)/)
      expect(e.hint).toMatch(/HF_TOKEN/)
    } finally {
      await strict.close()
    }
  })

  it('downloads a revision: refs/<rev> and the snapshot of its commit', async () => {
    const r = await downloadModel('org/tiny', 'v1', { env: env() })
    expect(r).toMatchObject({ revision: 'v1', commit: COMMIT_A, folder: join(repoDir(), 'snapshots', COMMIT_A) })
    expect((await fs.readFile(join(repoDir(), 'refs', 'v1'), 'utf8')).trim()).toBe(COMMIT_A)
    expect((await fs.readFile(join(r.folder, 'config.json'))).equals(v1['config.json']!)).toBe(true)
    expect((await openCheckpoint(r.folder)).config.numLayers).toBe(1)
    // Every file was fetched at the commit, not the branch or tag.
    expect(hub.requests.filter((q) => q.path.includes('/resolve/')).every((q) => q.path.includes(`/resolve/${COMMIT_A}/`))).toBe(true)
    // A commit asked for by its hash gets no ref.
    const byCommit = await downloadModel('org/tiny', COMMIT_B, { env: env() })
    expect(byCommit.folder).toBe(join(repoDir(), 'snapshots', COMMIT_B))
    expect(await fs.readdir(join(repoDir(), 'refs'))).toEqual(['v1'])
  })

  it('downloads sharded weights through their index and copies the snapshot into --out', async () => {
    const out = join(tmp(), 'plain')
    const r = await downloadModel('org/sharded', undefined, { env: env(), out })
    expect(r.files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'])
    expect(r.folder).toBe(out)
    expect(r.totalBytes).toBe(r.files.reduce((a, f) => a + f.bytes, 0))
    for (const f of r.files) {
      expect((await fs.lstat(join(out, f.path))).isFile()).toBe(true)
      expect(sha256(await fs.readFile(join(out, f.path)))).toBe(f.sha256 ?? sha256(await fs.readFile(join(r.snapshot, f.path))))
    }
    expect(existsSync(join(out, 'pytorch_model.bin'))).toBe(false)
  })

  it('refuses a second download of the same repository while one runs', async () => {
    hub.throttle(2_000_000)
    const first = downloadModel('org/tiny', undefined, { env: env() })
    const second = await failure(downloadModel('org/tiny', 'v1', { env: env() }))
    expect(second.code).toBe('locked')
    expect(second.message).toBe('org/tiny is already being downloaded.')
    hub.throttle(null)
    expect((await first).commit).toBe(COMMIT_B)
    expect((await downloadModel('org/tiny', 'v1', { env: env() })).commit).toBe(COMMIT_A)
  })

  it('cancels through the signal and resumes later', async () => {
    const ac = new AbortController()
    const e = await failure(downloadModel('org/tiny', undefined, { env: env(), signal: ac.signal, onProgress: (p) => p.file === 'model.safetensors' && p.done > p.total - 1_000_000 && ac.abort() }))
    expect(e.code).toBe('cancelled')
    const r = await downloadModel('org/tiny', undefined, { env: env() })
    // What arrived before the cancel is kept (as a partial file or, if it was all there, a checked blob).
    expect(r.fetchedBytes).toBeLessThan(v2['model.safetensors']!.length)
    expect(sha256(await fs.readFile(join(r.folder, 'model.safetensors')))).toBe(sha256(v2['model.safetensors']!))
  })

  it('says the size and whether training fits before downloading (model.hubInfo), with HF_ENDPOINT and HF_HOME from the environment', async () => {
    vi.stubEnv('HF_ENDPOINT', hub.url)
    vi.stubEnv('HF_HOME', home)
    vi.stubEnv('HF_TOKEN', '')
    const engine = new Engine({ mode: 'cli', home: tmp() })
    try {
      const info = await engine.invoke('model.hubInfo', { repo: 'org/tiny', revision: 'v1' })
      expect(info).toMatchObject({ repo: 'org/tiny', revision: 'v1', commit: COMMIT_A, cached: false, problem: null, gated: false })
      expect(info.totalBytes).toBe(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].reduce((a, f) => a + v1[f]!.length, 0))
      expect(info.model).toMatchObject({ architecture: 'GPT2LMHeadModel', family: 'gpt2', layers: 1, vocabulary: 50257, parameters: parameterCount(parseModelConfig(GPT2, 'c')) })
      expect(info.estimate!.total).toBeGreaterThan(0)
      expect(typeof info.fits).toBe('boolean')
      // Only config.json was fetched for it.
      expect(hub.requests.filter((q) => q.path.includes('/resolve/') && q.range !== 'bytes=0-0').map((q) => q.path)).toEqual([`/org/tiny/resolve/${COMMIT_A}/config.json`])

      const { job } = await engine.invoke('model.download', { repo: 'org/tiny', revision: 'v1' })
      const done = await engine.jobs.waitFor(job)
      expect(done.state).toBe('done')
      expect(done.kind === 'model-download' && done.result?.commit).toBe(COMMIT_A)
      expect((await engine.invoke('model.hubInfo', { repo: 'org/tiny', revision: 'v1' })).cached).toBe(true)
    } finally {
      await engine.close()
    }
  })
})
