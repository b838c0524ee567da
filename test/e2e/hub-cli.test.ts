import { promises as fs, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli'
import { type FakeHub, sha256, startFakeHub } from '../helpers/fakehub'
import { useTmp } from '../helpers/tmp'

// `vernacular model download` and `model hub-info` as scripts use them, against a fake Hub on loopback.
const tmp = useTmp()
const FIXTURE = join(__dirname, '..', 'engine', 'model', 'fixtures', 'gpt2')
const COMMIT = 'd'.repeat(40)
const FILES = { 'config.json': readFileSync(join(FIXTURE, 'config.json')), 'model.safetensors': readFileSync(join(FIXTURE, 'model.safetensors')) }

let hub: FakeHub
beforeAll(async () => {
  hub = await startFakeHub([
    { name: 'org/tiny', commits: { [COMMIT]: FILES }, refs: { main: COMMIT, 'v1.0': COMMIT } },
    { name: 'org/gated', commits: { [COMMIT]: FILES }, refs: { main: COMMIT }, token: 'hf_right' },
  ])
})
afterAll(() => hub?.close())

const env = (hfHome: string, token = '') => ({ VERNACULAR_HOME: join(hfHome, 'home'), VERNACULAR_BACKEND: 'wasm', HF_HOME: hfHome, HF_ENDPOINT: hub.url, HF_TOKEN: token })

describe('vernacular model download', () => {
  it('downloads a revision into the cache and --out, with JSON progress lines on stderr', async () => {
    const home = tmp()
    const out = join(tmp(), 'model')
    const info = await runCli(['model', 'hub-info', 'org/tiny', '--json'], { env: env(home) })
    expect(info.code).toBe(0)
    expect(JSON.parse(info.stdout)).toMatchObject({ commit: COMMIT, totalBytes: FILES['config.json'].length + FILES['model.safetensors'].length, cached: false, model: { architecture: 'GPT2LMHeadModel', layers: 2 }, fits: true })

    hub.throttle(150_000) // slow enough for a few progress lines
    const r = await runCli(['model', 'download', 'org/tiny', '--revision', 'v1.0', '--out', out, '--json'], { env: env(home) })
    hub.throttle(null)
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout) as Record<string, unknown>
    expect(result).toMatchObject({
      repo: 'org/tiny',
      revision: 'v1.0',
      commit: COMMIT,
      folder: out,
      snapshot: join(home, 'hub', 'models--org--tiny', 'snapshots', COMMIT),
      files: [
        { path: 'config.json', bytes: FILES['config.json'].length, sha256: null },
        { path: 'model.safetensors', bytes: FILES['model.safetensors'].length, sha256: sha256(FILES['model.safetensors']) },
      ],
      totalBytes: FILES['config.json'].length + FILES['model.safetensors'].length,
    })
    const progress = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; message: string; fraction: number | null })
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.every((p) => p.type === 'progress')).toBe(true)
    expect(progress.some((p) => /^model\.safetensors: [\d.]+ KiB of [\d.]+ KiB/.test(p.message) && p.fraction! > 0 && p.fraction! < 1)).toBe(true)
    expect(await fs.readFile(join(out, 'model.safetensors'))).toEqual(FILES['model.safetensors'])
    expect((await fs.readFile(join(home, 'hub', 'models--org--tiny', 'refs', 'v1.0'), 'utf8')).trim()).toBe(COMMIT)

    const human = await runCli(['model', 'download', 'org/tiny'], { env: env(home) })
    expect(human.code).toBe(0)
    expect(human.stdout).toContain(`Downloaded org/tiny at main (commit ${COMMIT}): 2 files`)
    expect(human.stdout).toContain('0 B fetched now')
  })

  it('says what to do for a gated model without a token, and for a missing one', async () => {
    const home = tmp()
    const gated = await runCli(['model', 'download', 'org/gated'], { env: env(home) })
    expect(gated.code).not.toBe(0)
    expect(gated.stderr).toMatch(/org\/gated .*HTTP 401/)
    expect(gated.stderr).toMatch(/HF_TOKEN/)
    const ok = await runCli(['model', 'download', 'org/gated', '--json'], { env: env(home, 'hf_right') })
    expect(ok.code).toBe(0)
    const missing = await runCli(['model', 'download', 'org/none', '--json'], { env: env(home) })
    expect(missing.code).not.toBe(0)
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'not-found', message: expect.stringContaining('no model org/none') } })
  })
})
