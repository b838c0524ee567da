import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import { TEMPLATE_NAMES } from '../../../main/engine/contract'
import { readTemplate } from '../../../main/engine/templates/demo'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()

describe('project templates', () => {
  it('make a project with the template’s language, base tokenizer and model, plan and training settings', async () => {
    const engine = new Engine({ mode: 'cli', home: tmp() })
    try {
      for (const name of TEMPLATE_NAMES) {
        const spec = await readTemplate(name)
        const dir = join(tmp(), name)
        const { manifest } = await engine.invoke('project.create', { dir, template: name })
        expect(manifest).toMatchObject({ name: spec.name, language: spec.language, template: name, vocabulary: spec.vocabulary, replay: spec.replay })
        expect(manifest.training).toMatchObject(spec.training!)
        expect(manifest.baseTokenizer).not.toBeNull()
        const model = await engine.invoke('baseModel.status', { dir })
        expect(model).toMatchObject({ tokenizer: 'same', fits: true })
        // The template's text is ingested on request, one role at a time, as a job.
        const { job } = await engine.invoke('corpus.addTemplate', { dir, role: 'english' })
        expect(job.labels).toEqual({ role: 'english' })
        await engine.jobs.waitFor(job)
      }
      const named = await engine.invoke('project.create', { dir: join(tmp(), 'x'), template: 'demo-th', name: 'Saját', language: 'th' })
      expect(named.manifest).toMatchObject({ name: 'Saját', language: 'th' })
      await expect(engine.invoke('project.create', { dir: join(tmp(), 'y') })).rejects.toThrow(/needs a name and a language \(or a template\)/)
      const plain = await engine.invoke('project.create', { dir: join(tmp(), 'z'), name: 'Z', language: 'hu' })
      await expect(engine.invoke('corpus.addTemplate', { dir: plain.dir, role: 'target' })).rejects.toThrow(/was not made from a template/)
      expect(JSON.parse(await fs.readFile(join(plain.dir, 'vernacular.json'), 'utf8')).template).toBeUndefined()
    } finally {
      await engine.close()
    }
  }, 120_000)
})
