import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()

describe('eval.report through the API', () => {
  it('checks its params, resolves the project and answers the writer’s refusals as errors', async () => {
    const engine = new Engine({ mode: 'web', home: tmp() })
    const dir = join(tmp(), 'magyar')
    await engine.invoke('project.create', { dir, name: 'Magyar', language: 'hu' })
    expect(await engine.handle({ id: 1, method: 'eval.report', params: { dir, format: 'pdf', out: join(tmp(), 'r.pdf') } })).toMatchObject({
      ok: false,
      error: { code: 'invalid-request', message: expect.stringContaining('format') },
    })
    expect(await engine.handle({ id: 2, method: 'eval.report', params: { dir, format: 'csv', out: '' } })).toMatchObject({ ok: false, error: { code: 'invalid-request' } })
    expect(await engine.handle({ id: 3, method: 'eval.report', params: { dir: tmp(), format: 'csv', out: join(tmp(), 'r.csv') } })).toMatchObject({ ok: false, error: { code: 'not-a-project' } })
    expect(await engine.handle({ id: 4, method: 'eval.report', params: { dir, format: 'html', out: join(tmp(), 'r.html') } })).toMatchObject({
      ok: false,
      error: { code: 'bad-input', message: expect.stringContaining('nothing to report'), hint: expect.stringContaining('Evaluate') },
    })
    await engine.close()
  })
})
