/**
 * How many tokens a corpus comes to under the project's base tokenizer: bytes per token measured
 * on a sample (the held-out documents and the start of the training documents, up to 512 KB), then
 * applied to the byte totals. Cheap enough to run on every stats request; tokenizers are cached
 * by file and modification time.
 */
import { stat } from 'node:fs/promises'
import { type CorpusRole, type CorpusStats, type RoleStats, type TokenEstimate, ROLE_VALUES } from '../contract'
import { readRoleState, roleStats } from '../corpus/store'
import { corpusLines } from '../corpus/text'
import { readManifest, resolveProjectPath } from '../project/manifest'
import { Tokenizer } from './tokenizer'

const SAMPLE_BYTES = 512 * 1024
const tokenizers = new Map<string, { mtimeMs: number; tok: Tokenizer }>()
const estimates = new Map<string, TokenEstimate>()

export async function loadTokenizerCached(path: string): Promise<Tokenizer> {
  const { mtimeMs } = await stat(path)
  const hit = tokenizers.get(path)
  if (hit && hit.mtimeMs === mtimeMs) {
    tokenizers.delete(path)
    tokenizers.set(path, hit)
    return hit.tok
  }
  const tok = await Tokenizer.fromFile(path)
  // a large vocabulary takes tens of MB in memory: keep the few most recently loaded
  tokenizers.delete(path)
  tokenizers.set(path, { mtimeMs, tok })
  while (tokenizers.size > 3) tokenizers.delete(tokenizers.keys().next().value!)
  return tok
}

export async function estimateTokens(dir: string, role: CorpusRole, stats: RoleStats, tokenizerPath: string): Promise<TokenEstimate> {
  const tok = await loadTokenizerCached(tokenizerPath)
  const key = `${dir}\0${role}\0${stats.updatedAt}\0${tokenizerPath}\0${tokenizers.get(tokenizerPath)?.mtimeMs}`
  const hit = estimates.get(key)
  if (hit) return hit
  let bytes = 0
  let tokens = 0
  const take = async (split: 'train' | 'heldout', budget: number) => {
    let used = 0
    for await (const line of corpusLines(dir, role, split)) {
      const b = Buffer.byteLength(line, 'utf8')
      bytes += b
      used += b
      tokens += tok.encode(line).length
      if (used >= budget) break
    }
  }
  await take('heldout', SAMPLE_BYTES / 2)
  await take('train', SAMPLE_BYTES - bytes)
  const bytesPerToken = tokens > 0 ? bytes / tokens : 0
  const estimate: TokenEstimate = {
    tokenizer: `${tok.family}, ${tok.vocabSize} tokens`,
    bytesPerToken,
    sampledBytes: bytes,
    train: bytesPerToken > 0 ? Math.round(stats.train.bytes / bytesPerToken) : 0,
    heldout: bytesPerToken > 0 ? Math.round(stats.heldout.bytes / bytesPerToken) : 0,
  }
  if (estimates.size > 100) estimates.clear()
  estimates.set(key, estimate)
  return estimate
}

/**
 * The profile of each role a project has ingested, each with its token estimate under the
 * project's base tokenizer (`corpus.stats`). The estimate is a nicety: a base tokenizer that cannot
 * be read shows up in the Vocabulary step, so here it only leaves the estimate out.
 */
export async function projectCorpusStats(projectDir: string): Promise<CorpusStats> {
  const manifest = await readManifest(projectDir)
  const tokenizer = manifest.baseTokenizer ? resolveProjectPath(projectDir, manifest.baseTokenizer.path) : null
  const roles: RoleStats[] = []
  for (const role of ROLE_VALUES) {
    const state = await readRoleState(projectDir, role)
    if (!state) continue
    const stats = roleStats(state)
    if (tokenizer) stats.tokens = await estimateTokens(projectDir, role, stats, tokenizer).catch(() => null)
    roles.push(stats)
  }
  return { dir: projectDir, roles }
}
