import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cleanText } from '../../../main/engine/corpus/clean'
import { sampleDocuments } from '../../../main/engine/corpus/sample'
import { readRoleState, roleDir } from '../../../main/engine/corpus/store'
import { wordCounter } from '../../../main/engine/corpus/words'
import { readManifest } from '../../../main/engine/project/manifest'
import { snapshotTree, useTmp } from '../../helpers/tmp'
import { HU, huDocs, ingest, project, write } from './helpers'

const tmp = useTmp()

async function shardTexts(projectDir: string, role: 'target' | 'english', split: 'train' | 'heldout'): Promise<string[]> {
  const state = await readRoleState(projectDir, role)
  const out: string[] = []
  for (const s of state?.sources ?? []) {
    for (const f of s.shards[split]) {
      for (const line of (await fs.readFile(join(roleDir(projectDir, role), f), 'utf8')).split('\n')) if (line) out.push(JSON.parse(line).text)
    }
  }
  return out.sort()
}

async function rejects(projectDir: string, role: 'target' | 'english'): Promise<{ reason: string; line: number; text?: string }[]> {
  const dir = join(roleDir(projectDir, role), 'rejects')
  const out = []
  for (const f of await fs.readdir(dir)) for (const l of (await fs.readFile(join(dir, f), 'utf8')).split('\n')) if (l) out.push(JSON.parse(l))
  return out
}

describe('cleaning rules', () => {
  it('normalises to NFC, folds spaces, removes control characters, trims lines', () => {
    expect(cleanText('A\u0301rvi\u0301z')).toBe('Árvíz') // NFD → NFC
    expect(cleanText('  egy\t\tkettő\u00a0 három  ')).toBe('egy kettő három')
    expect(cleanText('a\u0000b\u0007c\u200bd\ufeffe')).toBe('abcde')
    expect(cleanText('sor egy  \r\n\r\n\n   sor kettő\u2028sor három')).toBe('sor egy\nsor kettő\nsor három')
    expect(cleanText('می\u200cخواهم')).toBe('می\u200cخواهم') // ZWNJ is kept
  })

  it('counts Thai words with the dictionary segmenter and spaced scripts with the regex', () => {
    const th = wordCounter('th')
    expect(th.segmenter).toBe(true)
    expect(th.count('ภาษาไทยเป็นภาษาที่สวยงาม')).toBe(6)
    expect(th.count('ฉันชอบกินข้าวผัด และดื่มชาเย็น')).toBeGreaterThanOrEqual(7)
    const hu = wordCounter('hu')
    expect(hu.segmenter).toBe(false)
    expect(hu.count("A LibreOffice 7.4-es verziója, az ún. \"Writer\" — szövegszerkesztő.")).toBe(8)
  })
})

describe('ingest', () => {
  it('keeps clean documents, sets aside the rest with reasons, and profiles both splits', async () => {
    const dir = await project(tmp(), 'hu')
    const src = tmp()
    const file = await write(
      src,
      'hu.txt',
      [
        ...huDocs(40),
        'rövid', // too short
        '12345 67890 12345 67890 12345', // no letters
        'This sentence is entirely English and should not pass the script check for Thai.'.replace('Thai', 'Hungarian') + ' ' + 'ภาษาไทย', // counted below
        HU[0], // exact duplicate of a document…
        `  ${HU[0]}  `, // …and one that is the same after cleaning
      ].join('\n'),
    )
    const { final, stats } = await ingest(dir, 'target', [file], { minHeldout: 5 })
    expect(final.state).toBe('done')
    expect(stats.sources).toHaveLength(1)
    expect(stats.sources[0]).toMatchObject({ path: file, format: 'txt', compressed: false, documentsRead: 45 })
    expect(stats.removed).toEqual({ 'too-short': 1, 'no-letters': 1, duplicate: 1 })
    expect(stats.train.documents + stats.heldout.documents).toBe(42)
    expect(stats.heldout.documents).toBeGreaterThanOrEqual(5)
    expect(stats.train.scripts.Latn).toBeGreaterThan(1000)
    expect(stats.train.topWords[0]?.word).toBe('a')
    const r = await rejects(dir, 'target')
    expect(r.map((x) => x.reason).sort()).toEqual(['duplicate', 'no-letters', 'too-short'])
    expect(r.find((x) => x.reason === 'too-short')).toMatchObject({ line: 41, text: 'rövid' })
    // The project manifest records the corpus.
    expect((await readManifest(dir)).corpora).toEqual([expect.objectContaining({ role: 'target', sources: [file] })])
  })

  it('sets aside documents in the wrong script', async () => {
    const dir = await project(tmp(), 'th')
    const src = tmp()
    const file = await write(src, 'th.jsonl', ['ภาษาไทยเป็นภาษาราชการของประเทศไทย มีผู้พูดหลายสิบล้านคน', 'This line is in English and is not Thai at all, so it goes.', 'ข้อความนี้มี English words บ้าง แต่ส่วนใหญ่เป็นภาษาไทยนะครับ'].map((text) => JSON.stringify({ text })).join('\n'))
    const { stats } = await ingest(dir, 'target', [file], { minHeldout: 0 })
    expect(stats.removed).toEqual({ 'wrong-script': 1 })
    expect(stats.train.documents + stats.heldout.documents).toBe(2)
    expect((await rejects(dir, 'target'))[0]).toMatchObject({ reason: 'wrong-script', line: 2, share: 0 })
    // Thai words are counted by the segmenter: the first document alone has more than 8.
    expect(stats.train.words + stats.heldout.words).toBeGreaterThan(15)
  })

  it('de-duplicates across all files of a role, first copy wins', async () => {
    const dir = await project(tmp())
    const src = tmp()
    const a = await write(src, 'a/one.txt', huDocs(30).join('\n'))
    const b = await write(src, 'a/two.jsonl', huDocs(35).map((text) => JSON.stringify({ text })).join('\n'))
    const { stats } = await ingest(dir, 'target', [join(src, 'a')])
    expect(stats.sources.map((s) => s.path)).toEqual([a, b])
    expect(stats.sources[1]).toMatchObject({ documentsRead: 35, kept: 5, removed: { duplicate: 30 } })
  })

  it('splits deterministically by document hash', async () => {
    const src = tmp()
    const file = await write(src, 'many.txt', huDocs(3000).join('\n'))
    const p1 = await project(tmp())
    const p2 = await project(tmp())
    const s1 = (await ingest(p1, 'target', [file])).stats
    const s2 = (await ingest(p2, 'target', [file])).stats
    expect(await shardTexts(p1, 'target', 'heldout')).toEqual(await shardTexts(p2, 'target', 'heldout'))
    // About 2% of 3000 documents.
    expect(s1.heldout.documents).toBeGreaterThan(30)
    expect(s1.heldout.documents).toBeLessThan(100)
    expect(s2.heldout.documents).toBe(s1.heldout.documents)
    // Held-out and train never share a document.
    const train = new Set(await shardTexts(p1, 'target', 'train'))
    expect((await shardTexts(p1, 'target', 'heldout')).some((t) => train.has(t))).toBe(false)
  })

  it('holds out at least the minimum on a small corpus, and the same ones each time', async () => {
    const src = tmp()
    const file = await write(src, 'small.txt', huDocs(200).join('\n'))
    const p1 = await project(tmp())
    const s1 = (await ingest(p1, 'target', [file], { minHeldout: 20 })).stats
    expect(s1.heldout.documents).toBe(20)
    expect(s1.train.documents).toBe(180)
    const p2 = await project(tmp())
    await ingest(p2, 'target', [file], { minHeldout: 20 })
    expect(await shardTexts(p2, 'target', 'heldout')).toEqual(await shardTexts(p1, 'target', 'heldout'))
  })

  it('gives the same split whether files are added together or one by one', async () => {
    const src = tmp()
    const a = await write(src, 'a.txt', huDocs(120).join('\n'))
    const b = await write(src, 'b.txt', huDocs(400).slice(120).join('\n'))
    const together = await project(tmp())
    await ingest(together, 'target', [a, b], { minHeldout: 30 })
    const oneByOne = await project(tmp())
    const first = (await ingest(oneByOne, 'target', [a], { minHeldout: 30 })).stats
    expect(first.heldout.documents).toBe(30) // the minimum rule at work on the small first file
    const second = (await ingest(oneByOne, 'target', [a, b], { minHeldout: 30 })).stats
    expect(second.heldout.documents).toBe(30)
    expect(await shardTexts(oneByOne, 'target', 'heldout')).toEqual(await shardTexts(together, 'target', 'heldout'))
    expect(await shardTexts(oneByOne, 'target', 'train')).toEqual(await shardTexts(together, 'target', 'train'))
  })

  it('does nothing when run again on the same files, and ingests only an added file', async () => {
    const dir = await project(tmp())
    const src = tmp()
    const a = await write(src, 'a.txt', huDocs(100).join('\n'))
    await ingest(dir, 'target', [a], { minHeldout: 0 })
    const before = await snapshotTree(join(dir, 'corpora'))
    const again = await ingest(dir, 'target', [a], { minHeldout: 0 })
    expect(again.log).toContain('Nothing changed')
    expect(await snapshotTree(join(dir, 'corpora'))).toEqual(before)

    const b = await write(src, 'b.txt', [...huDocs(100), 'Egy teljesen új dokumentum, amely csak ebben a fájlban szerepel.'].join('\n'))
    const added = await ingest(dir, 'target', [a, b], { minHeldout: 0 })
    expect(added.log).not.toContain(`reading ${a}`)
    expect(added.log).toContain(`reading ${b}`)
    expect(added.stats.sources[1]).toMatchObject({ kept: 1, removed: { duplicate: 100 } })
    // a's shards were not rewritten (with no minimum held-out count to satisfy, nothing is re-routed).
    const after = await snapshotTree(join(dir, 'corpora'))
    for (const [name, content] of Object.entries(before)) if (name.startsWith('target/shards/')) expect(after[name]).toBe(content)
  })

  it('ingests a changed file again, with the files after it', async () => {
    const dir = await project(tmp())
    const src = tmp()
    const a = await write(src, 'a.txt', huDocs(50).join('\n'))
    const b = await write(src, 'b.txt', huDocs(60).join('\n'))
    const first = (await ingest(dir, 'target', [a, b])).stats
    expect(first.sources[1]?.kept).toBe(10)
    await write(src, 'a.txt', huDocs(20).join('\n'))
    const second = await ingest(dir, 'target', [a, b])
    expect(second.log).toContain(`reading ${a}`)
    expect(second.log).toContain(`reading ${b}`)
    expect(second.stats.sources.map((s) => s.kept)).toEqual([20, 40])
  })

  it('leaves the project as it was when cancelled', async () => {
    const dir = await project(tmp())
    const src = tmp()
    const a = await write(src, 'a.txt', huDocs(100).join('\n'))
    await ingest(dir, 'target', [a])
    const before = await snapshotTree(dir)
    const big = await write(src, 'big.txt', huDocs(400_000).join('\n'))
    const run = await ingest(dir, 'target', [a, big], {}, 300)
    expect(run.final.state).toBe('cancelled')
    const after = await snapshotTree(dir)
    // Only the job's own log was added.
    for (const k of Object.keys(after)) if (!k.startsWith('logs/')) expect(after[k]).toBe(before[k])
    expect(Object.keys(after).filter((k) => !k.startsWith('logs/')).sort()).toEqual(Object.keys(before).filter((k) => !k.startsWith('logs/')).sort())
  })

  it('fails on bad input naming the file and changes nothing', async () => {
    const dir = await project(tmp())
    const src = tmp()
    await ingest(dir, 'target', [await write(src, 'good.txt', huDocs(30).join('\n'))])
    const before = await snapshotTree(dir)
    const cases: [string, string | Buffer, RegExp][] = [
      ['empty.txt', '', /empty\.txt is empty/],
      ['bad.jsonl', '{"text": "ok ok ok ok ok ok ok ok"}\nnot json\n', /bad\.jsonl, line 2: not valid JSON/],
      ['bad.txt', Buffer.from([0x61, 0x62, 0xff, 0x0a]), /bad\.txt, line 1, byte 2: invalid UTF-8/],
      ['notes.pdf', 'x', /notes\.pdf: not a file type ingest reads/],
    ]
    for (const [name, content, message] of cases) {
      const f = await write(src, name, content)
      const run = await ingest(dir, 'target', [f])
      expect(run.final.state).toBe('failed')
      expect(run.final.error?.message).toMatch(message)
      await fs.rm(f)
    }
    await fs.mkdir(join(src, 'empty-folder'))
    const emptyFolder = await ingest(dir, 'target', [join(src, 'empty-folder')])
    expect(emptyFolder.final.error?.message).toMatch(/empty-folder holds no text files/)
    const missing = await ingest(dir, 'target', [join(src, 'nope.txt')])
    expect(missing.final.error?.message).toMatch(/nope\.txt: it does not exist/)
    // A failed first ingest of the other role leaves no folder behind either.
    await ingest(dir, 'english', [join(src, 'nope.txt')])
    expect(await fs.readdir(join(dir, 'corpora'))).toEqual(['target'])
    const after = await snapshotTree(dir)
    for (const k of Object.keys(before)) expect(after[k]).toBe(before[k])
    expect(Object.keys(after).filter((k) => !k.startsWith('logs/'))).toEqual(Object.keys(before).filter((k) => !k.startsWith('logs/')))
  })

  it('replaces invalid UTF-8 when asked and counts it', async () => {
    const dir = await project(tmp())
    const src = tmp()
    const f = await write(src, 'mixed.txt', Buffer.concat([Buffer.from(huDocs(10).join('\n') + '\nHibás bájt itt: '), Buffer.from([0xe9]), Buffer.from(' és a mondat folytatódik tovább.\n')]))
    const { stats } = await ingest(dir, 'target', [f], { invalidUtf8: 'replace' })
    expect(stats.sources[0]?.invalidBytesReplaced).toBe(1)
    expect(stats.sources[0]?.kept).toBe(11)
  })

  it('samples documents of a split, reproducibly with a seed', async () => {
    const dir = await project(tmp())
    const src = tmp()
    const f = await write(src, 'a.txt', huDocs(500).join('\n'))
    await ingest(dir, 'target', [f])
    const one = await sampleDocuments(dir, 'target', 'heldout', 5, 42)
    expect(one).toHaveLength(5)
    expect(await sampleDocuments(dir, 'target', 'heldout', 5, 42)).toEqual(one)
    const heldout = new Set(await shardTexts(dir, 'target', 'heldout'))
    for (const d of one) {
      expect(heldout.has(d.text)).toBe(true)
      expect(d.source).toBe(f)
      expect(d.line).toBeGreaterThan(0)
    }
    await expect(sampleDocuments(dir, 'english', 'heldout', 5)).rejects.toThrow(/has no English text yet/)
  })
})

describe('shard lines', () => {
  it('are exactly the JSON of the cleaned text: quotes, backslashes, line breaks, astral and lone surrogates', async () => {
    const dir = await project(tmp())
    const texts = [
      `${HU[0]} Idézet: "így" és egy \\ visszaper, C:\\Users\\x.`,
      `${HU[1]}\nMásodik sor "idézőjellel".\nHarmadik sor, emoji 😀 és 𝐀𝐁.`,
      `${HU[2]} Egy magányos helyettesítő: \ud800 itt, és egy másik \udfff ott.`,
      `${HU[3]}\tTabulátor\u0007 és vezérlőkarakter, \u2028 sorelválasztó.`,
      `${HU[4]} Ékezetek NFD-ben: e\u0301 a\u0301.`,
    ]
    const file = await write(dir, 'docs.jsonl', texts.map((t) => JSON.stringify({ text: t })).join('\n') + '\n')
    const { final } = await ingest(dir, 'target', [file], { minChars: 10, heldoutFraction: 0 })
    expect(final.state).toBe('done')
    const state = await readRoleState(dir, 'target')
    const lines: string[] = []
    for (const s of state!.sources) for (const f of [...s.shards.train, ...s.shards.heldout]) lines.push(...(await fs.readFile(join(roleDir(dir, 'target'), f), 'utf8')).split('\n').filter(Boolean))
    expect(lines).toHaveLength(texts.length)
    const bodies = lines.map((l) => l.slice(l.indexOf(',"text":') + 8, -1)).sort()
    expect(bodies).toEqual(texts.map((t) => JSON.stringify(cleanText(t))).sort())
  })

  it('are the same from a .txt read as undecoded bytes: blocks, CRLF, quotes, controls, NFD, astral', async () => {
    const docs = [
      `${HU[0]}\nMásodik sor "idézőjellel" és \\ visszaperrel.`,
      `${HU[1]}\r\nCRLF-es második sor.`,
      `\u00a0${HU[2]} (nem törő szóközzel kezdődik)`,
      `${HU[3]} emoji 😀 és 𝐀𝐁 a végén.`,
      `${HU[4]}\u0007csengővel.`,
      `${HU[4]} És  két  szóközzel.`,
      `${HU[5]} NFD: e\u0301 a\u0301.`,
      `Ünnep: ${HU[0]}\n  behúzott második sor  `,
      `${HU[1]}\u2028 sorelválasztóval.`,
    ]
    const expected = docs.map((d) => JSON.stringify(cleanText(d))).sort()
    for (const [name, content, mode] of [
      ['blocks.txt', docs.join('\n\n') + '\n', 'blank'],
      ['lines.txt', docs.map((d) => d.replace(/\r?\n/g, ' ')).join('\n') + '\n', 'line'],
    ] as const) {
      const dir = await project(tmp())
      const file = await write(dir, name, content)
      const { final } = await ingest(dir, 'target', [file], { minChars: 10, heldoutFraction: 0, txtMode: mode })
      expect(final.error).toBeNull()
      const state = await readRoleState(dir, 'target')
      const lines: string[] = []
      for (const s of state!.sources) for (const f of [...s.shards.train, ...s.shards.heldout]) lines.push(...(await fs.readFile(join(roleDir(dir, 'target'), f), 'utf8')).split('\n').filter(Boolean))
      const bodies = lines.map((l) => l.slice(l.indexOf(',"text":') + 8, -1)).sort()
      expect(bodies).toEqual(mode === 'blank' ? expected : docs.map((d) => JSON.stringify(cleanText(d.replace(/\r?\n/g, ' ')))).sort())
    }
  })
})

describe('word counts', () => {
  it('lists the words the regex finds, lower-cased one by one', () => {
    const WORD = /[\p{L}\p{M}\p{N}]+(?:['’\-.][\p{L}\p{M}\p{N}]+)*/gu
    const hu = wordCounter('hu')
    const texts = [
      ...HU,
      'ΟΔΟΣ.ΚΑΙ ΑΣ\u00adΒ ΑΣ ΣΑ', // the capital sigma, whose lower case depends on what follows
      'İSTANBUL İzmir', // İ lower-cases to two units
      "a'b'c - x-y- .5 7.4 '' don’t 𝐀𝐁c 𝐀x a--b a-.b .a. a. 𝒳'y",
      'x\ud800y \udc00z Ǆemal ǅ ẞ',
      'e\u0301 \u0301a',
    ]
    for (const text of texts) {
      const listed: string[] = []
      const n = hu.count(text, (w) => listed.push(w))
      const expected = [...text.matchAll(WORD)].map((m) => m[0].toLowerCase())
      expect(listed).toEqual(expected)
      expect(n).toBe(expected.length)
    }
  })


  it('counts the same words in the character pass as the regex counter', async () => {
    const { countCharacters } = await import('../../../main/engine/corpus/scripts')
    const hu = wordCounter('hu')
    for (const text of [...HU, "A LibreOffice 7.4-es verziója, az ún. \"Writer\" — szövegszerkesztő.", "don't e-mail 'quoted' -dash- end.", 'Ünnep: 2024. 03. 15.; naïve café — x', 'ab..cd a--b']) {
      expect(countCharacters(text).spacedWords).toBe(hu.count(text))
    }
  })
})
