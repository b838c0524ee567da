import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MANIFEST_SCHEMA_VERSION } from '../../../main/engine/contract'
import { EngineError } from '../../../main/engine/common/errors'
import { manifestPath, newManifest, readManifest, writeManifest } from '../../../main/engine/project/manifest'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()

async function expectError(p: Promise<unknown>, code: string): Promise<EngineError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(EngineError)
  expect((e as EngineError).code).toBe(code)
  return e as EngineError
}

describe('manifest', () => {
  it('round-trips a new manifest through disk', async () => {
    const dir = tmp()
    const written = await writeManifest(dir, newManifest('Magyar', 'hu'))
    const read = await readManifest(dir)
    expect(read).toEqual(written)
    expect(read.schemaVersion).toBe(MANIFEST_SCHEMA_VERSION)
    expect(read.replay.englishShare).toBe(0.25)
    // Pretty-printed with a trailing newline, so that diffs of project folders stay readable.
    expect(await fs.readFile(manifestPath(dir), 'utf8')).toMatch(/^\{\n {2}"format": "vernacular-project",[\s\S]*\n\}\n$/)
  })

  it('reads a manifest written before the later training settings, with their defaults', async () => {
    const dir = tmp()
    const { gradientAccumulation: _a, keepCheckpoints: _k, evalEvery: _e, embeddingOnlySteps: _s, documentMasking: _d, ...older } = newManifest('Régi', 'hu').training
    await fs.writeFile(manifestPath(dir), JSON.stringify({ ...newManifest('Régi', 'hu'), training: older }, null, 2) + '\n')
    const read = await readManifest(dir)
    expect(read.training).toEqual({ ...older, gradientAccumulation: 1, keepCheckpoints: 3, evalEvery: 50, embeddingOnlySteps: 0, documentMasking: true })
    // A paused run is a state the manifest stores; `interrupted` is not (it is derived).
    await fs.writeFile(manifestPath(dir), JSON.stringify({ ...read, runs: [{ id: 'r1', name: 'main', createdAt: read.createdAt, status: 'paused', dir: 'runs/main' }] }))
    expect((await readManifest(dir)).runs[0]?.status).toBe('paused')
    await fs.writeFile(manifestPath(dir), JSON.stringify({ ...read, runs: [{ id: 'r1', name: 'main', createdAt: read.createdAt, status: 'interrupted', dir: 'runs/main' }] }))
    await expectError(readManifest(dir), 'corrupt-manifest')
  })

  it('keeps fields it does not know when saving', async () => {
    const dir = tmp()
    const m = { ...newManifest('X', 'th'), pluginData: { keep: [1, 2, 3] } }
    await writeManifest(dir, m)
    const again = await writeManifest(dir, await readManifest(dir))
    expect(again.pluginData).toEqual({ keep: [1, 2, 3] })
  })

  it('explains a folder without a manifest and a missing folder', async () => {
    const dir = tmp()
    const e1 = await expectError(readManifest(dir), 'not-a-project')
    expect(e1.message).toContain('has no vernacular.json')
    const e2 = await expectError(readManifest(join(dir, 'nope')), 'not-found')
    expect(e2.message).toContain(join(dir, 'nope'))
  })

  it('reports invalid JSON with line and column', async () => {
    const dir = tmp()
    await fs.writeFile(manifestPath(dir), '{\n  "format": "vernacular-project",\n  "name": oops\n}\n')
    const e = await expectError(readManifest(dir), 'corrupt-manifest')
    expect(e.message).toContain('line 3, column 11: unexpected "o"')
    expect(e.file).toBe(manifestPath(dir))
  })

  it('reports an empty file', async () => {
    const dir = tmp()
    await fs.writeFile(manifestPath(dir), '')
    await expectError(readManifest(dir), 'corrupt-manifest')
  })

  it('refuses a manifest from a newer schema and says to update', async () => {
    const dir = tmp()
    const future = { ...newManifest('Future', 'hu'), schemaVersion: MANIFEST_SCHEMA_VERSION + 1, writtenBy: 'vernacular 9.0.0' }
    await fs.writeFile(manifestPath(dir), JSON.stringify(future))
    const e = await expectError(readManifest(dir), 'newer-schema')
    expect(e.message).toContain(`schema ${MANIFEST_SCHEMA_VERSION + 1}`)
    expect(e.message).toContain('vernacular 9.0.0')
    expect(e.hint).toMatch(/Update Vernacular/)
  })

  it('tells a foreign JSON file from a damaged manifest', async () => {
    const dir = tmp()
    await fs.writeFile(manifestPath(dir), JSON.stringify({ name: 'some other tool' }))
    await expectError(readManifest(dir), 'not-a-project')
    const broken: Record<string, unknown> = { ...newManifest('B', 'hu'), replay: { englishShare: 7 } }
    delete broken.runs
    await fs.writeFile(manifestPath(dir), JSON.stringify(broken))
    const e = await expectError(readManifest(dir), 'corrupt-manifest')
    expect(e.details?.some((d) => d.startsWith('replay.englishShare'))).toBe(true)
    expect(e.details?.some((d) => d.startsWith('runs'))).toBe(true)
  })

})
