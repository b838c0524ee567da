import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildCloze, clozeJsonl } from '../../../main/engine/evaluation/cloze'
import { codePoints } from '../../../main/engine/evaluation/metrics'
import { readTask } from '../../../main/engine/evaluation/tasks'
import { demoClozeTask } from '../../../resources/demo/build-tasks'
import { ROOT, demoText } from '../tokenizer/fixtures'

const TASKS = join(ROOT, 'resources', 'demo', 'tasks')

describe('cloze tasks from held-out text', () => {
  it('are the same for the same seed, and made of true continuations against other texts’ continuations', () => {
    const docs = demoText('hu').heldout
    const a = buildCloze(docs, 'hu', { seed: 7 })
    expect(clozeJsonl(buildCloze(docs, 'hu', { seed: 7 }))).toBe(clozeJsonl(a))
    expect(clozeJsonl(buildCloze(docs, 'hu', { seed: 8 }))).not.toBe(clozeJsonl(a))
    expect(a.length).toBeGreaterThanOrEqual(200)
    const golds = [0, 0, 0, 0]
    let distractors = 0
    let similar = 0
    for (const item of a) {
      expect(item.choices).toHaveLength(4)
      expect(new Set(item.choices).size).toBe(4)
      golds[item.gold]!++
      const gold = item.choices[item.gold]!
      // The context and the gold choice are the start of one held-out line; no distractor continues it.
      const source = docs.filter((d) => d.trim().startsWith(item.context + gold))
      expect(source.length, item.context).toBeGreaterThan(0)
      const words = (s: string) => [...new Intl.Segmenter('hu', { granularity: 'word' }).segment(s)].filter((x) => x.isWordLike).length
      expect(words(gold)).toBe(5)
      expect(words(item.context)).toBeGreaterThanOrEqual(6)
      expect(words(item.context)).toBeLessThanOrEqual(20)
      for (const [k, c] of item.choices.entries()) {
        if (k === item.gold) continue
        expect(docs.some((d) => d.trim().startsWith(item.context + c))).toBe(false)
        distractors++
        if (Math.abs(codePoints(c) - codePoints(gold)) <= 0.25 * codePoints(gold)) similar++
      }
    }
    // Distractors are of the gold choice's length (within 25%), but for the few with no such others.
    expect(similar / distractors).toBeGreaterThan(0.95)
    // The gold choice's position is drawn: each of the four gets a fair share.
    for (const g of golds) expect(g).toBeGreaterThan(a.length / 8)
  })

  it('cut Thai at word boundaries, with no space added', () => {
    const items = buildCloze(demoText('th').heldout, 'th', { seed: 1, items: 50 })
    expect(items.length).toBeGreaterThan(20)
    for (const item of items) {
      expect(item.choices.every((c) => c === c.trim())).toBe(true)
      expect(demoText('th').heldout.some((d) => d.includes(item.context + item.choices[item.gold]))).toBe(true)
    }
  })

  it('ship for Hungarian, Thai and English with at least 200 items each, in the task format', async () => {
    for (const lang of ['hu', 'th', 'en']) {
      const task = await readTask(join(TASKS, `${lang}-cloze.jsonl`))
      expect(task.items.length, lang).toBeGreaterThanOrEqual(200)
      for (const item of task.items) {
        expect(item.format).toBe('vernacular')
        expect(item.choices).toHaveLength(4)
      }
    }
  })

  it('are made again byte for byte from the demo corpus’s held-out split (Thai)', { timeout: 120_000 }, async () => {
    expect(await demoClozeTask('th')).toBe(await fs.readFile(join(TASKS, 'th-cloze.jsonl'), 'utf8'))
  })
})
