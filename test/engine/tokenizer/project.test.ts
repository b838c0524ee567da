import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../../../main/engine/api/engine'
import { useTmp } from '../../helpers/tmp'
import { TOKENIZER_FILES, demoText } from './fixtures'

// The Vocabulary step's operations on a real project: base tokenizer, token estimates in the
// corpus profile, sweep, preview and extension, all through the engine API the app uses.
const tmp = useTmp()

async function projectWithText(engine: Engine): Promise<string> {
  const dir = join(tmp(), 'p')
  const data = tmp()
  await engine.invoke('project.create', { dir, name: 'Vocab', language: 'hu' })
  await fs.writeFile(join(data, 'hu.txt'), demoText('hu').train.slice(0, 6000).join('\n') + '\n')
  await fs.writeFile(join(data, 'en.txt'), demoText('en').train.slice(0, 3000).join('\n') + '\n')
  for (const [role, file] of [['target', 'hu.txt'], ['english', 'en.txt']] as const) {
    const { job } = await engine.invoke('corpus.add', { dir, role, paths: [join(data, file)], options: { txtMode: 'line' } })
    expect((await engine.jobs.wait(job.id)).state).toBe('done')
  }
  return dir
}

describe('vocabulary step operations', () => {
  it('sets a base tokenizer, estimates corpus tokens, sweeps, previews and extends', async () => {
    const engine = new Engine({ mode: 'cli', home: tmp() })
    try {
      const dir = await projectWithText(engine)
      expect((await engine.invoke('vocab.status', { dir })).base).toBeNull()
      expect((await engine.invoke('corpus.stats', { dir })).roles[0]!.tokens).toBeNull()
      await expect(engine.invoke('vocab.setBase', { dir, path: join(dir, 'nope.json') })).rejects.toMatchObject({ code: 'not-found' })

      const status = await engine.invoke('vocab.setBase', { dir, path: TOKENIZER_FILES.gpt2 })
      expect(status.base).toMatchObject({ family: 'byte-level-bpe', vocabSize: 50257, merges: 50000 })
      expect((await engine.invoke('project.open', { dir })).manifest.baseTokenizer).toEqual({ path: join('tokenizer', 'base', 'tokenizer.json') })
      expect(await fs.readFile(join(dir, 'tokenizer', 'base', 'tokenizer.json'))).toEqual(await fs.readFile(TOKENIZER_FILES.gpt2))

      // token estimates: bytes per token on a sample, applied to the totals
      const roles = (await engine.invoke('corpus.stats', { dir })).roles
      const target = roles.find((r) => r.role === 'target')!
      const english = roles.find((r) => r.role === 'english')!
      expect(target.tokens!.bytesPerToken).toBeGreaterThan(1.5)
      expect(english.tokens!.bytesPerToken).toBeGreaterThan(target.tokens!.bytesPerToken) // GPT-2 is English-centric
      expect(target.tokens!.train).toBe(Math.round(target.train.bytes / target.tokens!.bytesPerToken))

      const sweepJob = (await engine.invoke('vocab.sweep', { dir, counts: [0, 300, 1500] })).job
      const sweep = (await engine.jobs.waitFor(sweepJob)).result!
      expect(sweep.points.map((p) => p.count)).toEqual([0, 300, 1500])
      expect(sweep.points[2]!.target.tokensPerWord).toBeLessThan(sweep.points[0]!.target.tokensPerWord)
      expect(sweep.points[0]!.english).not.toBeNull()
      expect((await engine.invoke('vocab.status', { dir })).sweep?.points).toHaveLength(3)

      const text = 'A magyar nyelv az uráli nyelvcsalád tagja.'
      const preview = await engine.invoke('vocab.preview', { dir, text, count: 1500 })
      expect(preview.base.map((t) => t.text).join('')).toBe(text)
      expect(preview.extended!.map((t) => t.text).join('')).toBe(text)
      expect(preview.extended!.length).toBeLessThan(preview.base.length)
      expect(preview.extended!.some((t) => t.isNew)).toBe(true)
      expect(preview.base.some((t) => t.isNew)).toBe(false)
      for (const t of preview.extended!) expect(text.slice(t.start, t.end)).toBe(t.text)
      expect((await engine.invoke('vocab.preview', { dir, text, count: 0 })).extended).toBeNull()

      const extendJob = (await engine.invoke('vocab.extend', { dir, mode: 'replace', count: 500 })).job
      const done = await engine.jobs.waitFor(extendJob)
      expect(done.state).toBe('done')
      const summary = done.result!
      expect(summary).toMatchObject({ mode: 'replace', count: 500, vocabSize: 50257, removed: 500, warnings: [] })
      expect((await fs.readdir(summary.out)).sort()).toEqual(['summary.json', 'tokenizer.json', 'vocab-changes.json'])
      const after = await engine.invoke('vocab.status', { dir })
      expect(after.outputs.map((o) => [o.mode, o.count])).toEqual([['replace', 500]])
      expect(after.plan).toEqual({ mode: 'replace', count: 500 })

      // under a memory budget: a seeded sample of the shards, a capped table of words
      const budgetJob = (await engine.invoke('vocab.extend', { dir, mode: 'add', count: 300, sampleMb: 0.25, maxWords: 3000 })).job
      const budgeted = await engine.jobs.waitFor(budgetJob)
      expect(budgeted.state).toBe('done')
      const changes = JSON.parse(await fs.readFile(join(budgeted.result!.out, 'vocab-changes.json'), 'utf8')) as { corpus: { bytes: number; distinctWords: number }; counting: { sampled: boolean; corpusBytes: number; maxWords: number } }
      expect(changes.counting).toMatchObject({ sampled: true, maxWords: 3000 })
      expect(changes.corpus.distinctWords).toBeLessThanOrEqual(3000)
      expect(changes.corpus.bytes).toBeLessThan(0.5 * changes.counting.corpusBytes)
      expect(budgeted.result!.added).toBe(300)

      // a new base tokenizer makes the old sweep meaningless
      await engine.invoke('vocab.setBase', { dir, path: TOKENIZER_FILES.llama2 })
      expect((await engine.invoke('vocab.status', { dir })).sweep).toBeNull()
    } finally {
      await engine.close()
    }
  }, 90_000)

  it('cancels an extension while it learns, leaving no output folder', async () => {
    // every progress event as it happens (not throttled), so that the listener sees learning
    // under way however fast it runs on this machine
    const engine = new Engine({ mode: 'cli', home: tmp(), progressIntervalMs: 0 })
    try {
      const dir = await projectWithText(engine)
      await engine.invoke('vocab.setBase', { dir, path: TOKENIZER_FILES.llama2 })
      const { job } = await engine.invoke('vocab.extend', { dir, mode: 'add', count: 3000 })
      let cancelledAt = -1
      const off = engine.jobs.onChange((j) => {
        // well before the last token, so that the cancel lands while learning goes on (once the
        // output is being written, a cancel comes too late and the job ends done); cancelled
        // from within the progress event, as a click would be, with learning still to do
        const n = /Learned (\d+) of/.exec(j.progress.message)
        if (j.id === job.id && n && Number(n[1]) < 2000 && cancelledAt < 0) {
          cancelledAt = Number(n[1])
          engine.jobs.cancel(job.id)
        }
      })
      const final = await engine.jobs.wait(job.id)
      off()
      expect(cancelledAt).toBeGreaterThanOrEqual(0)
      expect(final.state).toBe('cancelled')
      expect((await fs.readdir(join(dir, 'tokenizer'))).sort()).toEqual(['base'])
      expect((await engine.invoke('vocab.status', { dir })).outputs).toEqual([])
    } finally {
      await engine.close()
    }
  }, 60_000)

  it('refuses a sweep before there is a base tokenizer or text', async () => {
    const engine = new Engine({ mode: 'cli', home: tmp() })
    try {
      const dir = join(tmp(), 'empty')
      await engine.invoke('project.create', { dir, name: 'Empty', language: 'th' })
      const noBase = await engine.jobs.wait((await engine.invoke('vocab.sweep', { dir, counts: [0, 100] })).job.id)
      expect(noBase.error?.message).toMatch(/no base tokenizer/)
      await engine.invoke('vocab.setBase', { dir, path: TOKENIZER_FILES.llama2 })
      const noText = await engine.jobs.wait((await engine.invoke('vocab.sweep', { dir, counts: [0, 100] })).job.id)
      expect(noText.error?.message).toMatch(/target corpus is empty/)
      await expect(engine.invoke('vocab.setBase', { dir, path: join(dir, 'vernacular.json') })).rejects.toMatchObject({ code: 'bad-input' })
    } finally {
      await engine.close()
    }
  })
})
