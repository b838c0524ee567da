/** The demo base model's tokenizer: a prefix of GPT-2's (used by build-base-model.ts and bench:train). */
import { promises as fs } from 'node:fs'

/**
 * GPT-2's tokenizer.json cut to its first `vocab` − 1 tokens (the 256 bytes and the first merges,
 * each of which makes token 256 + its rank: checked) and `<|endoftext|>` as the last id.
 */
export async function writePrefixTokenizer(full: string, out: string, vocab: number): Promise<void> {
  const j = JSON.parse(await fs.readFile(full, 'utf8')) as {
    added_tokens: { id: number; content: string }[]
    model: { vocab: Record<string, number>; merges: (string | [string, string])[] }
  }
  const keep = vocab - 1
  const entries = Object.entries(j.model.vocab).filter(([, id]) => id < keep)
  const merges = j.model.merges.slice(0, keep - 256)
  const kept = new Map(entries)
  merges.forEach((m, i) => {
    const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m
    if (kept.get(a + b) !== 256 + i) throw new Error(`GPT-2 merge ${i} (${a} ${b}) does not make token ${256 + i}`)
  })
  if (entries.length !== keep) throw new Error(`expected ${keep} tokens below id ${keep}, found ${entries.length}`)
  j.model.vocab = Object.fromEntries([...entries, ['<|endoftext|>', keep]])
  j.model.merges = merges
  j.added_tokens = j.added_tokens.map((t) => (t.content === '<|endoftext|>' ? { ...t, id: keep } : t))
  await fs.writeFile(out, JSON.stringify(j) + '\n')
}
