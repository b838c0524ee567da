import { existsSync, promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Tokenizer as HfTokenizer } from 'tokenizers'
import { runCli } from '../helpers/cli'
import { useTmp } from '../helpers/tmp'
import { TOKENIZER_FILES, demoText } from '../engine/tokenizer/fixtures'

// The `vernacular tokenizer` commands as scripts use them: exact flags and JSON fields.
const tmp = useTmp()
const GPT2 = TOKENIZER_FILES.gpt2
const LLAMA2 = TOKENIZER_FILES.llama2

async function files(): Promise<{ dir: string; train: string; heldout: string; english: string; env: NodeJS.ProcessEnv }> {
  const dir = tmp()
  const train = join(dir, 'hu-train.txt')
  const heldout = join(dir, 'hu-heldout.txt')
  const english = join(dir, 'en-heldout.txt')
  await fs.writeFile(train, demoText('hu').train.slice(0, 8000).join('\n') + '\n')
  await fs.writeFile(heldout, demoText('hu').heldout.join('\n') + '\n')
  await fs.writeFile(english, demoText('en').heldout.join('\n') + '\n')
  return { dir, train, heldout, english, env: { VERNACULAR_HOME: join(dir, 'home') } }
}

const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>

describe('vernacular tokenizer', () => {
  it('encode: ids for each line, as Hugging Face encodes them', async () => {
    const f = await files()
    const text = join(f.dir, 'lines.txt')
    const lines = ['Szia, világ! 🤗', '', 'ภาษาไทย', '  spaced   out  ']
    await fs.writeFile(text, lines.join('\n') + '\n')
    const r = await runCli(['tokenizer', 'encode', '--tokenizer', LLAMA2, '--text', text, '--json'], { env: f.env })
    expect(r.code).toBe(0)
    const out = json(r.stdout) as { ids: number[][]; tokens: number }
    const hf = HfTokenizer.fromFile(LLAMA2)
    const expected = await Promise.all(lines.map(async (l) => (await hf.encode(l, null, { addSpecialTokens: false })).getIds()))
    expect(out.ids).toEqual(expected)
    expect(out.tokens).toBe(expected.flat().length)
    const special = await runCli(['tokenizer', 'encode', '--tokenizer', LLAMA2, '--text', text, '--special', '--json'], { env: f.env })
    expect((json(special.stdout) as { ids: number[][] }).ids[0]![0]).toBe(1)
    const human = await runCli(['tokenizer', 'encode', '--tokenizer', LLAMA2, '--text', text], { env: f.env })
    expect(human.stdout.split('\n')[0]).toBe(expected[0]!.join(' '))
  })

  it('info: family, vocabulary, merges and special tokens', async () => {
    const f = await files()
    const r = await runCli(['tokenizer', 'info', LLAMA2, '--json'], { env: f.env })
    expect(r.code).toBe(0)
    expect(json(r.stdout)).toMatchObject({ family: 'sentencepiece-bpe', vocabSize: 32000, modelVocab: 32000, byteFallback: true, specialTokens: [{ id: 0, content: '<unk>' }, { id: 1, content: '<s>' }, { id: 2, content: '</s>' }] })
    const human = await runCli(['tokenizer', 'info', GPT2], { env: f.env })
    expect(human.stdout).toContain('byte-level-bpe')
    expect(human.stdout).toContain('<|endoftext|> (50256)')
  })

  it('fertility: the documented fields', async () => {
    const f = await files()
    const r = await runCli(['tokenizer', 'fertility', '--tokenizer', GPT2, '--text', f.heldout, '--lang', 'hu', '--json'], { env: f.env })
    expect(r.code).toBe(0)
    const out = json(r.stdout)
    for (const k of ['lines', 'words', 'chars', 'bytes', 'tokens', 'tokensPerWord', 'charsPerToken', 'bytesPerToken', 'continuedWordShare']) expect(typeof out[k]).toBe('number')
    expect(out.lines).toBe(demoText('hu').heldout.length)
    expect(out.tokensPerWord).toBeCloseTo((out.tokens as number) / (out.words as number), 10)
    expect(out.continuedWordShare).toBeGreaterThan(0.3)
  })

  it('extend: writes tokenizer.json and vocab-changes.json that Hugging Face loads', async () => {
    const f = await files()
    const out = join(f.dir, 'extended')
    const r = await runCli(['tokenizer', 'extend', '--base', LLAMA2, '--corpus', f.train, f.heldout, '--mode', 'add', '--count', '1000', '--out', out, '--json'], { env: f.env })
    expect(r.code, r.stderr).toBe(0)
    const summary = json(r.stdout)
    expect(summary).toMatchObject({ mode: 'add', count: 1000, baseVocabSize: 32000, vocabSize: 33000, added: 1000, removed: 0 })
    expect((await fs.readdir(out)).sort()).toEqual(['tokenizer.json', 'vocab-changes.json'])
    const changes = JSON.parse(await fs.readFile(join(out, 'vocab-changes.json'), 'utf8'))
    expect(changes).toMatchObject({ format: 'vernacular-vocab-changes', version: 1, mode: 'add' })
    expect(changes.added[0]).toEqual(expect.objectContaining({ id: 32000, token: expect.any(String), bytes: expect.any(Array), decomposition: expect.any(Array) }))
    expect(HfTokenizer.fromFile(join(out, 'tokenizer.json')).getVocabSize(true)).toBe(33000)
    // replace with an English reference keeps the size
    const out2 = join(f.dir, 'replaced')
    const r2 = await runCli(['tokenizer', 'extend', '--base', LLAMA2, '--corpus', f.train, '--mode', 'replace', '--count', '500', '--reference', f.english, f.train, '--out', out2, '--json'], { env: f.env })
    expect(r2.code, r2.stderr).toBe(0)
    expect(json(r2.stdout)).toMatchObject({ mode: 'replace', vocabSize: 32000, removed: 500, warnings: [] })
  })

  it('sweep: fertility per count from one learning run', async () => {
    const f = await files()
    const r = await runCli(
      ['tokenizer', 'sweep', '--base', GPT2, '--corpus', f.train, '--heldout-target', f.heldout, '--heldout-english', f.english, '--counts', '0,500,2000', '--lang', 'hu', '--json'],
      { env: f.env },
    )
    expect(r.code, r.stderr).toBe(0)
    const out = json(r.stdout) as { points: { count: number; vocabSize: number; target: { tokensPerWord: number }; english: { tokensPerWord: number } }[]; learned: number }
    expect(out.points.map((p) => p.count)).toEqual([0, 500, 2000])
    expect(out.points.map((p) => p.vocabSize)).toEqual([50257, 50757, 52257])
    const tpw = out.points.map((p) => p.target.tokensPerWord)
    expect(tpw[1]).toBeLessThan(tpw[0]!)
    expect(tpw[2]).toBeLessThan(tpw[1]!)
    expect(out.points[2]!.english.tokensPerWord).toBeLessThanOrEqual(out.points[0]!.english.tokensPerWord)
    const human = await runCli(['tokenizer', 'sweep', '--base', GPT2, '--corpus', f.train, '--heldout-target', f.heldout, '--counts', '0,1k'], { env: f.env })
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^\s+1000\s+51257/m)
  })

  it('bad input: clear errors and no output folder left behind', async () => {
    const f = await files()
    const out = join(f.dir, 'never')
    const truncated = join(f.dir, 'truncated.json')
    await fs.writeFile(truncated, (await fs.readFile(GPT2, 'utf8')).slice(0, 50_000))
    const wordpiece = join(f.dir, 'bert.json')
    await fs.writeFile(wordpiece, JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 0 }, unk_token: '[UNK]' } }))
    const latin2 = join(f.dir, 'latin2.txt')
    await fs.writeFile(latin2, Buffer.from([0x48, 0xe9, 0x6c, 0x6c, 0xf5, 0x0a]))
    const empty = join(f.dir, 'empty.txt')
    await fs.writeFile(empty, '')
    const cases: [string[], RegExp][] = [
      [['--base', truncated, '--corpus', f.train, '--mode', 'add', '--count', '10'], /truncated\.json: not valid JSON \(line \d+, column \d+/],
      [['--base', wordpiece, '--corpus', f.train, '--mode', 'add', '--count', '10'], /WordPiece tokenizers are not supported yet/],
      [['--base', GPT2, '--corpus', f.heldout, '--mode', 'add', '--count', '100000'], /the corpus yields only \d+ new tokens/],
      [['--base', GPT2, '--corpus', empty, '--mode', 'add', '--count', '10'], /corpus is empty/],
      [['--base', GPT2, '--corpus', f.train, '--mode', 'replace', '--count', '10', '--reference', latin2], /latin2\.txt, line 1.*invalid UTF-8/],
    ]
    for (const [args, message] of cases) {
      const r = await runCli(['tokenizer', 'extend', ...args, '--out', out, '--json'], { env: f.env })
      expect(r.code).toBe(1)
      expect((json(r.stdout).error as { message: string }).message).toMatch(message)
      expect(existsSync(out)).toBe(false)
      expect((await fs.readdir(f.dir)).filter((n) => n.includes('never'))).toEqual([])
    }
    const usage = await runCli(['tokenizer', 'extend', '--base', GPT2, '--corpus', f.train, '--mode', 'grow', '--count', '10', '--out', out], { env: f.env })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--mode must be add or replace')
  })

  it('refuses to overwrite a folder that holds other files, and replaces its own output', async () => {
    const f = await files()
    const out = join(f.dir, 'mine')
    await fs.mkdir(out)
    await fs.writeFile(join(out, 'notes.txt'), 'keep me')
    const args = ['tokenizer', 'extend', '--base', GPT2, '--corpus', f.heldout, '--mode', 'add', '--count', '50', '--out', out, '--json']
    const refused = await runCli(args, { env: f.env })
    expect(refused.code).toBe(1)
    expect(await fs.readFile(join(out, 'notes.txt'), 'utf8')).toBe('keep me')
    await fs.rm(join(out, 'notes.txt'))
    expect((await runCli(args, { env: f.env })).code).toBe(0)
    expect((await runCli(args, { env: f.env })).code).toBe(0)
    expect((await fs.readdir(out)).sort()).toEqual(['tokenizer.json', 'vocab-changes.json'])
  })
})

describe('vernacular tokenizer input files', () => {
  it('reads .jsonl and .gz corpora like plain text', async () => {
    const dir = tmp()
    const lines = demoText('hu').heldout.slice(0, 300)
    const txt = join(dir, 'hu.txt')
    const jsonl = join(dir, 'hu.jsonl')
    const gz = join(dir, 'hu.txt.gz')
    await fs.writeFile(txt, lines.join('\n') + '\n')
    await fs.writeFile(jsonl, lines.map((text, i) => JSON.stringify({ id: i, text })).join('\n') + '\n')
    const { gzipSync } = await import('node:zlib')
    await fs.writeFile(gz, gzipSync(lines.join('\n') + '\n'))
    const env = { VERNACULAR_HOME: join(dir, 'home') }
    const results = []
    for (const f of [txt, jsonl, gz]) {
      const r = await runCli(['tokenizer', 'fertility', '--tokenizer', GPT2, '--text', f, '--lang', 'hu', '--json'], { env })
      expect(r.code, r.stderr).toBe(0)
      results.push(JSON.parse(r.stdout))
    }
    expect(results[1]).toEqual(results[0])
    expect(results[2]).toEqual(results[0])
  })
})

describe('vernacular vocab (on a project)', () => {
  it('sets the base tokenizer, sweeps, extends and reports the status', async () => {
    const dir = tmp()
    const env = { VERNACULAR_HOME: join(dir, 'home') }
    const project = join(dir, 'p')
    const text = join(dir, 'hu.txt')
    await fs.writeFile(text, demoText('hu').train.slice(0, 4000).join('\n') + '\n')
    expect((await runCli(['project', 'create', project, '--name', 'P', '--language', 'hu'], { env })).code).toBe(0)
    expect((await runCli(['corpus', 'add', project, '--role', 'target', text, '--txt-mode', 'line'], { env })).code).toBe(0)
    const base = await runCli(['vocab', 'set-base', project, GPT2, '--json'], { env })
    expect(json(base.stdout)).toMatchObject({ base: { family: 'byte-level-bpe', vocabSize: 50257 } })
    const sweep = await runCli(['vocab', 'sweep', project, '--counts', '0,300', '--json'], { env })
    expect(sweep.code, sweep.stderr).toBe(0)
    expect((json(sweep.stdout) as { points: { count: number }[] }).points.map((p) => p.count)).toEqual([0, 300])
    const extend = await runCli(['vocab', 'extend', project, '--mode', 'add', '--count', '300', '--json'], { env })
    expect(json(extend.stdout)).toMatchObject({ mode: 'add', count: 300, vocabSize: 50557 })
    const status = json((await runCli(['vocab', 'status', project, '--json'], { env })).stdout) as { plan: unknown; outputs: unknown[]; sweep: unknown }
    expect(status.plan).toEqual({ mode: 'add', count: 300 })
    expect(status.outputs).toHaveLength(1)
    expect(status.sweep).not.toBeNull()
    const stats = json((await runCli(['corpus', 'stats', project, '--json'], { env })).stdout) as { roles: { tokens: { train: number } | null }[] }
    expect(stats.roles[0]!.tokens!.train).toBeGreaterThan(0)
  })
})
