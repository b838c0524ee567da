import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { setThreadScript, threadCount } from '../../../main/engine/common/threads'
import { prepareTokenData, tokenDataDir } from '../../../main/engine/training/data'
import { TokenisePool, encodeBatch } from '../../../main/engine/training/tokenise'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { engineThreadScript } from '../../helpers/threads'
import { useTmp } from '../../helpers/tmp'
import { ingest } from '../corpus/helpers'
import { demoText } from '../tokenizer/fixtures'
import { GPT2_TOKENIZER, smallTrainingProject } from './helpers'

const tmp = useTmp()
let script = ''
beforeAll(async () => {
  script = await engineThreadScript()
}, 60_000)
afterAll(() => setThreadScript(null))

describe('tokenising on every core', () => {
  it('writes the same token files byte for byte on 3 threads as on one (shards of the target text read by the threads, batches of the English)', async () => {
    const { dir } = await smallTrainingProject(tmp, { target: 400, english: 150, layers: 1 })
    // Three more target sources: four shards, so each thread reads and encodes whole shards.
    const src = tmp()
    for (const [i, from] of [400, 700, 1000].entries()) {
      await fs.writeFile(join(src, `hu${i}.txt`), demoText('hu').train.slice(from, from + 300).join('\n') + '\n')
      await ingest(dir, 'target', [join(src, `hu${i}.txt`)], { txtMode: 'line', minHeldout: 10 })
    }
    const tok = await Tokenizer.fromFile(GPT2_TOKENIZER)
    const out = await tokenDataDir(dir, tok)
    setThreadScript(script)
    const logs: string[] = []
    const fractions: number[] = []
    const threaded = await prepareTokenData(dir, GPT2_TOKENIZER, { threads: 3, log: (l) => logs.push(l), progress: (u) => fractions.push((u.done ?? 0) / (u.total ?? 1)) })
    expect(logs).toContain('tokenising on 3 threads')
    expect(logs).toContain('target: 4 shards, each read and encoded by a thread')
    // Progress only goes forward, and ends at the whole text.
    expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!)).toBe(true)
    expect(fractions.at(-1)).toBeCloseTo(1, 6)
    const files = { target: await fs.readFile(join(out, 'target.tokens')), english: await fs.readFile(join(out, 'english.tokens')) }
    await fs.rm(out, { recursive: true })
    setThreadScript(null)
    const single = await prepareTokenData(dir, GPT2_TOKENIZER, { threads: 1 })
    expect(single.roles).toEqual(threaded.roles)
    for (const role of ['target', 'english'] as const) expect(Buffer.compare(await fs.readFile(join(out, `${role}.tokens`)), files[role])).toBe(0)
    expect(threaded.roles.target!.documents).toBeGreaterThan(1000)
  }, 120_000)

  it('encodes batches in threads as the tokenizer does here, in the order they were sent', async () => {
    const tok = await Tokenizer.fromFile(GPT2_TOKENIZER)
    const pool = await TokenisePool.start(script, GPT2_TOKENIZER, 2)
    try {
      const batches = [['Árvíztűrő tükörfúrógép.', ''], ['Hello world', 'a b c', 'ünnepnap'], ['x']]
      const results = await Promise.all(batches.map((b) => pool.encode(b)))
      results.forEach((r, i) => {
        const here = encodeBatch(tok, batches[i]!)
        expect(Array.from(r.ids)).toEqual(Array.from(here.ids))
        expect(Array.from(r.lengths)).toEqual(Array.from(here.lengths))
      })
    } finally {
      await pool.close()
    }
    // A thread that cannot load the tokenizer says why.
    await expect(TokenisePool.start(script, join(tmp(), 'missing.json'), 1)).rejects.toThrow(/missing\.json/)
  }, 60_000)

  it('takes its thread count from VERNACULAR_THREADS, else every core', () => {
    expect(threadCount({ VERNACULAR_THREADS: '3' })).toBe(3)
    expect(threadCount({})).toBeGreaterThanOrEqual(1)
    expect(() => threadCount({ VERNACULAR_THREADS: 'many' })).toThrow(/not a number of threads/)
  })
})
