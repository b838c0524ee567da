import { createWriteStream, promises as fs } from 'node:fs'
import { join, resolve } from 'node:path'
import { mulberry32 } from '../../main/engine/common/rng'

const ROOT = resolve(__dirname, '../..')

/**
 * Writes about `targetBytes` of Hungarian to `file` for the data benchmarks: documents of 3–10
 * lines of the demo corpus (resources/demo/corpora/hu) in a seeded random order, separated by blank
 * lines, so documents practically never repeat but the words are the demo's. Says what it wrote.
 */
export async function generateHungarian(file: string, targetBytes: number, seed: number): Promise<void> {
  const demo = join(ROOT, 'resources', 'demo', 'corpora', 'hu')
  const lines: string[] = []
  for (const f of (await fs.readdir(demo)).sort()) {
    for (const l of (await fs.readFile(join(demo, f), 'utf8')).split('\n')) if (l.length > 30) lines.push(l)
  }
  const rand = mulberry32(seed)
  const out = createWriteStream(file)
  let written = 0
  let docs = 0
  while (written < targetBytes) {
    const n = 3 + Math.floor(rand() * 8)
    const doc: string[] = []
    for (let i = 0; i < n; i++) doc.push(lines[Math.floor(rand() * lines.length)] as string)
    const text = doc.join('\n') + '\n\n'
    written += Buffer.byteLength(text)
    docs++
    if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((r) => out.end(() => r()))
  process.stdout.write(`generated ${(written / 2 ** 20).toFixed(0)} MB, ${docs.toLocaleString('en')} documents, in ${file}\n`)
}
