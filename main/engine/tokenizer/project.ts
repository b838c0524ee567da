/**
 * The Vocabulary step of a project: its base tokenizer (copied into the project), the sweep over
 * vocabulary sizes on the project's corpora (kept with its learned tokens, for the live preview),
 * and extended tokenizers written next to them.
 *
 *   tokenizer/base/tokenizer.json          the base tokenizer, as the user gave it
 *   tokenizer/sweep.json                   the last sweep: fertility per size, learned tokens
 *   tokenizer/<mode>-<count>/              tokenizer.json + vocab-changes.json
 */
import { promises as fs } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import type { PreviewResult, PreviewToken, TokenizerSummary, VocabStatus } from '../contract'
import { readRoleState } from '../corpus/store'
import { EngineError } from '../common/errors'
import { writeFileAtomic } from '../common/fsutil'
import { readManifest, resolveProjectPath } from '../project/manifest'
import { updateProject } from '../project/projects'
import { loadTokenizerCached } from './estimate'
import { prefixTokenizer, type ExtendMode } from './extend'
import type { LearnedToken } from './learn'
import { runExtension, summarize, sweep, type ExtendSummary, type Progress, type SweepResult } from './operations'
import { corpusLines } from '../corpus/text'
import { sampleCorpusLines, type CountBudget } from './wordcount'
import { readTokenizerText, Tokenizer } from './tokenizer'

export const TOKENIZER_DIR = 'tokenizer'
const BASE_REL = join(TOKENIZER_DIR, 'base', 'tokenizer.json')
const SWEEP_REL = join(TOKENIZER_DIR, 'sweep.json')

interface SavedSweep extends SweepResult {
  format: 'vernacular-sweep'
  learnedTokens: LearnedToken[]
}

async function baseTokenizer(dir: string): Promise<{ tok: Tokenizer; path: string } | null> {
  const m = await readManifest(dir)
  if (!m.baseTokenizer) return null
  const path = resolveProjectPath(dir, m.baseTokenizer.path)
  return { tok: await loadTokenizerCached(path), path }
}

async function requireBase(dir: string): Promise<{ tok: Tokenizer; path: string }> {
  const b = await baseTokenizer(dir)
  if (!b) throw new EngineError('bad-input', 'the project has no base tokenizer yet', { hint: "Choose the base model's tokenizer.json in the Vocabulary step first." })
  return b
}

const cache = new Map<string, { key: string; tok: Tokenizer; learn: { tokens: LearnedToken[] } }>()

/** Copies a tokenizer.json into the project after checking that Vernacular can use it. */
export async function setBaseTokenizer(dir: string, source: string): Promise<VocabStatus> {
  const src = resolve(source)
  const text = await readTokenizerText(src)
  Tokenizer.fromJSON(text, src) // refuse what cannot be used before anything is written
  const target = join(dir, BASE_REL)
  await fs.mkdir(join(dir, TOKENIZER_DIR, 'base'), { recursive: true })
  await writeFileAtomic(target, text) // the file as the user gave it, byte for byte
  await fs.rm(join(dir, SWEEP_REL), { force: true })
  await updateProject(dir, 'set the base tokenizer', (m) => ({ ...m, baseTokenizer: { path: relative(dir, target) } }))
  cache.delete(dir)
  return vocabStatus(dir)
}

export async function vocabStatus(dir: string): Promise<VocabStatus> {
  const m = await readManifest(dir)
  let base: TokenizerSummary | null = null
  let baseProblem: string | null = null
  if (m.baseTokenizer) {
    try {
      const b = await baseTokenizer(dir)
      if (b) base = summarize(b.tok, b.path)
    } catch (e) {
      baseProblem = (e as Error).message
    }
  }
  let sweepResult: SweepResult | null
  try {
    const saved = JSON.parse(await fs.readFile(join(dir, SWEEP_REL), 'utf8')) as SavedSweep
    const { learnedTokens: _l, format: _f, ...rest } = saved
    sweepResult = rest
  } catch {
    sweepResult = null
  }
  const outputs: ExtendSummary[] = []
  const tdir = join(dir, TOKENIZER_DIR)
  for (const name of (await fs.readdir(tdir).catch(() => [] as string[])).sort()) {
    if (!/^(add|replace)-\d+$/.test(name)) continue
    try {
      const summary = JSON.parse(await fs.readFile(join(tdir, name, 'summary.json'), 'utf8')) as ExtendSummary
      outputs.push(summary)
    } catch {
      // a folder without a summary is not ours to list
    }
  }
  return { base, baseProblem, sweep: sweepResult, outputs, plan: { mode: m.vocabulary.mode as ExtendMode, count: m.vocabulary.count } }
}

async function heldoutLines(dir: string, role: 'target' | 'english', signal: AbortSignal): Promise<string[] | null> {
  if (!(await readRoleState(dir, role))) return null
  const out: string[] = []
  for await (const l of corpusLines(dir, role, 'heldout', signal)) out.push(l)
  return out
}

async function corpusBytes(dir: string, role: 'target' | 'english'): Promise<number> {
  const s = await readRoleState(dir, role)
  return s ? s.sources.reduce((a, x) => a + x.profile.train.bytes, 0) : 0
}

export async function projectSweep(dir: string, counts: number[], ctx: Progress, budget: CountBudget = {}): Promise<SweepResult> {
  const { tok } = await requireBase(dir)
  const m = await readManifest(dir)
  if (!(await readRoleState(dir, 'target'))) throw new EngineError('bad-input', 'the target corpus is empty', { hint: 'Add target-language text in the Corpus step first.' })
  const heldoutTarget = (await heldoutLines(dir, 'target', ctx.signal)) ?? []
  const heldoutEnglish = await heldoutLines(dir, 'english', ctx.signal)
  const text = await sampleCorpusLines(dir, 'target', 'train', budget, ctx.signal)
  const result = await sweep(
    {
      base: tok,
      corpus: text.lines,
      corpusBytes: text.sampled ? text.plannedBytes : await corpusBytes(dir, 'target'),
      heldoutTarget,
      heldoutEnglish,
      counts,
      targetLanguage: m.language,
      ...(budget.maxWords !== undefined ? { maxWords: budget.maxWords } : {}),
    },
    ctx,
  )
  const saved: SavedSweep = { format: 'vernacular-sweep', ...result }
  await writeFileAtomic(join(dir, SWEEP_REL), JSON.stringify(saved) + '\n')
  cache.delete(dir)
  const { learnedTokens: _, ...rest } = result
  return rest
}

export async function projectExtend(dir: string, mode: ExtendMode, count: number, ctx: Progress, budget: CountBudget = {}): Promise<ExtendSummary> {
  const { tok: base } = await requireBase(dir)
  if (!(await readRoleState(dir, 'target'))) throw new EngineError('bad-input', 'the target corpus is empty', { hint: 'Add target-language text in the Corpus step first.' })
  const warnings: string[] = []
  const hasEnglish = (await readRoleState(dir, 'english')) !== null
  if (mode === 'replace' && !hasEnglish) warnings.push('There is no English replay text, so base-token frequencies come from the target text alone and English tokens are not protected.')
  async function* mix() {
    yield* corpusLines(dir, 'target', 'train', ctx.signal)
    if (hasEnglish) yield* corpusLines(dir, 'english', 'train', ctx.signal)
  }
  const text = await sampleCorpusLines(dir, 'target', 'train', budget, ctx.signal)
  const summary = await runExtension(
    {
      base,
      mode,
      count,
      corpus: text.lines,
      corpusBytes: text.sampled ? text.plannedBytes : await corpusBytes(dir, 'target'),
      sample: text,
      ...(budget.maxWords !== undefined ? { maxWords: budget.maxWords } : {}),
      reference: mode === 'replace' ? mix() : null,
      out: join(dir, TOKENIZER_DIR, `${mode}-${count}`),
      withSummary: true,
      warnings,
    },
    ctx,
  )
  await updateProject(dir, 'record the vocabulary plan', (m) => ({ ...m, vocabulary: { mode, count } }))
  return summary
}

function previewTokens(tok: Tokenizer, text: string, newFrom: number): PreviewToken[] {
  const enc = tok.encodeDetailed(text)
  const dec = new TextDecoder('utf-8', { fatal: false })
  return enc.ids.map((id, i) => ({
    id,
    text: dec.decode(tok.tokenBytes(id)),
    start: enc.offsets[i]![0],
    end: enc.offsets[i]![1],
    isNew: id >= newFrom,
    special: tok.specialIds.has(id),
  }))
}

/** Tokens of `text` under the base tokenizer and with the first `count` tokens of the last sweep. */
export async function previewTokenization(dir: string, text: string, count: number): Promise<PreviewResult> {
  const { tok: base } = await requireBase(dir)
  const baseTokens = previewTokens(base, text, Infinity)
  let entry = cache.get(dir)
  if (!entry || entry.key !== `${count}`) {
    let saved: SavedSweep | null
    try {
      saved = JSON.parse(await fs.readFile(join(dir, SWEEP_REL), 'utf8')) as SavedSweep
    } catch {
      saved = null
    }
    if (!saved || count === 0) return { count, base: baseTokens, extended: null }
    const k = Math.min(count, saved.learnedTokens.length)
    const learn = { tokens: saved.learnedTokens }
    entry = { key: `${count}`, tok: prefixTokenizer(base, learn, k), learn }
    cache.set(dir, entry)
  }
  return { count, base: baseTokens, extended: previewTokens(entry.tok, text, base.vocabSize) }
}
