import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ReplayMixture } from '../../../main/engine/training/mixture'
import { TokenFile, TokenFileWriter } from '../../../main/engine/training/tokens'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const python = spawnSync('python3', ['-c', 'import numpy']).status === 0
const HANDOFF = join(__dirname, '../../../resources/handoff')

describe('the training data spec', () => {
  // Another trainer (the hand-off to PyTorch) must reproduce our batches from docs/training-data.md:
  // the bundle's vernacular_data.py, written from the spec in Python (numpy), draws the same sequences.
  it.skipIf(!python)('is reproduced sequence for sequence by the Python implementation of the spec the hand-off ships', async () => {
    const dir = tmp()
    const target = Array.from({ length: 13 }, (_, d) => Array.from({ length: 1 + ((d * 7) % 11) }, (_, i) => 100 + d * 20 + i))
    const english = Array.from({ length: 5 }, (_, d) => Array.from({ length: 2 + d }, (_, i) => 900 + d * 20 + i))
    const files: TokenFile[] = []
    for (const [name, docs] of [['target', target], ['english', english]] as const) {
      const w = await TokenFileWriter.create(join(dir, `${name}.tokens`), 1000, 'cd'.repeat(32))
      for (const d of docs) await w.add(d)
      await w.finish()
      files.push(await TokenFile.open(join(dir, `${name}.tokens`)))
    }
    for (const [share, seed] of [
      [0.3, 1234567],
      [0, 42],
      [0.75, -3],
    ] as const) {
      const m = new ReplayMixture({ target: files[0]!, english: files[1]! }, { sequenceLength: 9, englishShare: share, seed, eos: 0, documentMasking: true, readAhead: 7 })
      const ours = (await m.batch(150)).map((s) => [s.language, Array.from(s.tokens)])
      const script = [
        'import json, sys',
        `sys.path.insert(0, ${JSON.stringify(HANDOFF)})`,
        'import vernacular_data as v',
        `files = {'target': v.TokenFile(${JSON.stringify(join(dir, 'target.tokens'))}), 'english': v.TokenFile(${JSON.stringify(join(dir, 'english.tokens'))})}`,
        `m = v.ReplayMixture(files, 9, ${share}, ${seed}, 0, True)`,
        'print(json.dumps([[lang, [int(t) for t in tokens]] for lang, tokens, _s, _p in (m.next() for _ in range(150))]))',
      ].join('\n')
      const theirs = JSON.parse(execFileSync('python3', ['-c', script]).toString()) as unknown
      expect(ours).toEqual(theirs)
    }
    for (const f of files) await f.close()
  })
})
