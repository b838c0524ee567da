import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { vocabFingerprint } from '../../../main/engine/common/fingerprint'
import { corpusDocuments } from '../../../main/engine/corpus/text'
import { createProject } from '../../../main/engine/project/projects'
import { Tokenizer } from '../../../main/engine/tokenizer/tokenizer'
import { DATA_DIR, corpusFingerprint, openTokenData, prepareTokenData } from '../../../main/engine/training/data'
import { ingest } from '../corpus/helpers'
import { demoText } from '../tokenizer/fixtures'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const GPT2 = join(__dirname, '../../../resources/demo/base/tokenizer.json')

describe('token data of a project', () => {
  it('tokenises the train split of each role once, with progress, and reads back every document', async () => {
    const dir = join(tmp(), 'p')
    await createProject({ dir, name: 'T', language: 'hu' })
    const src = tmp()
    await fs.writeFile(join(src, 'hu.txt'), demoText('hu').train.slice(0, 400).join('\n') + '\n')
    await fs.writeFile(join(src, 'en.txt'), demoText('en').train.slice(0, 200).join('\n') + '\n')
    expect((await ingest(dir, 'target', [join(src, 'hu.txt')], { txtMode: 'line' })).final.state).toBe('done')
    expect((await ingest(dir, 'english', [join(src, 'en.txt')], { txtMode: 'line' })).final.state).toBe('done')

    const fractions: number[] = []
    const data = await prepareTokenData(dir, GPT2, { progress: (u) => fractions.push((u.done ?? 0) / (u.total ?? 1)) })
    const tok = await Tokenizer.fromFile(GPT2)
    expect(data.dir).toBe(join(dir, DATA_DIR, `${vocabFingerprint(tok).slice(0, 16)}-${(await corpusFingerprint(dir)).slice(0, 16)}`))
    expect(fractions.at(-1)).toBeCloseTo(1, 6)
    expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!)).toBe(true)

    const files = await openTokenData(data)
    // Every train document, in shard order, decodes from its tokens.
    for (const role of ['target', 'english'] as const) {
      const file = files[role]!
      expect(file.header).toMatchObject({ bytesPerToken: 2, vocabSize: 50257, tokenizer: vocabFingerprint(tok) })
      const docs: string[] = []
      for await (const d of corpusDocuments(dir, role, 'train')) docs.push(d)
      expect(file.documents).toBe(docs.length)
      expect(data.roles[role]).toMatchObject({ documents: docs.length, tokens: file.tokens })
      for (const d of [0, Math.floor(docs.length / 2), docs.length - 1]) expect(tok.decode(Array.from(await file.read(d)))).toBe(docs[d])
      await file.close()
    }
    // English costs GPT-2 fewer tokens per byte than Hungarian.
    expect(data.roles.english!.bytes / data.roles.english!.tokens).toBeGreaterThan(data.roles.target!.bytes / data.roles.target!.tokens)

    // Reused as long as nothing changed; new text makes new token files.
    const mtime = (await fs.stat(join(data.dir, 'target.tokens'))).mtimeMs
    const again = await prepareTokenData(dir, GPT2)
    expect(again.dir).toBe(data.dir)
    expect((await fs.stat(join(data.dir, 'target.tokens'))).mtimeMs).toBe(mtime)
    await fs.writeFile(join(src, 'hu2.txt'), demoText('hu').train.slice(400, 500).join('\n') + '\n')
    await ingest(dir, 'target', [join(src, 'hu2.txt')], { txtMode: 'line' })
    const more = await prepareTokenData(dir, GPT2)
    expect(more.dir).not.toBe(data.dir)
    expect(more.roles.target!.documents).toBeGreaterThan(data.roles.target!.documents)
  }, 60_000)

  it('refuses a project without target-language text, and writes nothing', async () => {
    const dir = join(tmp(), 'p')
    await createProject({ dir, name: 'T', language: 'hu' })
    await expect(prepareTokenData(dir, GPT2)).rejects.toThrow(/no target-language text/)
    await expect(fs.readdir(join(dir, DATA_DIR))).rejects.toThrow()
  })
})
