/**
 * Tokenising on every core: corpus shards (or, for a small corpus, batches of documents) go
 * round-robin to worker threads (common/threads.ts), each with its own copy of the tokenizer, and
 * come back as flat ids with each document's length. A thread reads a shard itself, so the text
 * never passes through the calling thread.
 * The caller writes the results in the order it sent the batches, so the token files are the same
 * byte for byte as one thread would write them. At most `2 × threads` batches are in flight, so
 * memory stays bounded whatever the corpus.
 */
import { readFileSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
import type { Worker } from 'node:worker_threads'
import { startEngineThread } from '../common/threads'
import { Tokenizer } from '../tokenizer/tokenizer'

export const TOKENISE_TASK = 'tokenise'

/** One encoded batch: every document's ids one after the other, each document's length, and the bytes of its text. */
export interface EncodedBatch {
  ids: Uint32Array
  lengths: Uint32Array
  bytes: number
}

type Reply = { type: 'ready' } | { type: 'done'; seq: number; ids: Uint32Array; lengths: Uint32Array; bytes: number } | { type: 'error'; seq: number; message: string }
type Request = { seq: number; docs: string[] } | { seq: number; shard: string }


/** A pool of tokenising threads; `encode` keeps each batch's order for the caller to restore. */
export class TokenisePool {
  private next = 0
  private seq = 0
  private readonly pending = new Map<number, { resolve(b: EncodedBatch): void; reject(e: Error): void }>()
  private failure: Error | null = null

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: Reply) => {
        if (m.type === 'ready') return
        const p = this.pending.get(m.seq)
        if (!p) return
        this.pending.delete(m.seq)
        if (m.type === 'done') p.resolve({ ids: m.ids, lengths: m.lengths, bytes: m.bytes })
        else p.reject(new Error(`a tokenising thread failed: ${m.message}`))
      })
      const fail = (e: Error) => {
        this.failure ??= e
        for (const p of this.pending.values()) p.reject(e)
        this.pending.clear()
      }
      w.on('error', (e) => fail(new Error(`a tokenising thread failed: ${e.message}`)))
      w.on('exit', (code) => {
        if (code !== 0) fail(new Error(`a tokenising thread exited with code ${code}`))
      })
    }
  }

  /** Starts `threads` threads on `script`, each loading `tokenizerFile`; resolves when all are ready. */
  static async start(script: string | URL, tokenizerFile: string, threads: number, timeoutMs = 60_000): Promise<TokenisePool> {
    const workers: Worker[] = []
    try {
      for (let i = 0; i < threads; i++) workers.push(startEngineThread(script, TOKENISE_TASK, { tokenizerFile }))
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`a tokenising thread started from ${String(script)} did not answer within ${timeoutMs / 1000} s`)), timeoutMs)
              w.once('message', (m: Reply) => {
                clearTimeout(timer)
                if (m.type === 'ready') resolve()
                else reject(new Error(m.type === 'error' ? m.message : 'unexpected message'))
              })
              w.once('error', (e) => {
                clearTimeout(timer)
                reject(e)
              })
            }),
        ),
      )
      return new TokenisePool(workers)
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()))
      throw e
    }
  }

  get threads(): number {
    return this.workers.length
  }

  /** Encodes a batch of documents on the next thread. */
  encode(docs: string[]): Promise<EncodedBatch> {
    return this.request((seq) => ({ seq, docs }))
  }

  /**
   * Encodes every document of a corpus shard (JSONL of `{"text"}`, corpus/store.ts) on the next
   * thread, which reads the file itself: the text never passes through this thread.
   */
  encodeShard(file: string): Promise<EncodedBatch> {
    return this.request((seq) => ({ seq, shard: file }))
  }

  private request(make: (seq: number) => Request): Promise<EncodedBatch> {
    if (this.failure) return Promise.reject(this.failure)
    const seq = this.seq++
    const worker = this.workers[this.next++ % this.workers.length] as Worker
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject })
      worker.postMessage(make(seq))
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}

/** Encodes on this thread (no pool): the same result. */
export function encodeBatch(tokenizer: Tokenizer, docs: string[]): EncodedBatch {
  const out = new IdBuffer(docs.length, docs.reduce((n, d) => n + d.length, 0) >> 1)
  for (const d of docs) out.add(tokenizer, d)
  return out.finish()
}

/**
 * Every document of a corpus shard (JSONL of `{"text"}`, corpus/store.ts), in order: the file is
 * read whole as bytes and each line decoded, parsed and encoded in turn, so no string of the whole
 * shard (nor an array of its lines) is ever made.
 */
export function encodeShard(tokenizer: Tokenizer, file: string): EncodedBatch {
  const raw = readFileSync(file)
  const out = new IdBuffer(1024, raw.length >> 2)
  let from = 0
  while (from < raw.length) {
    let to = raw.indexOf(10, from)
    if (to < 0) to = raw.length
    if (to > from) out.add(tokenizer, (JSON.parse(raw.toString('utf8', from, to)) as { text: string }).text)
    from = to + 1
  }
  return out.finish()
}

/** Ids of documents one after the other, growing as needed, with each document's length and bytes. */
class IdBuffer {
  private ids: Uint32Array
  private n = 0
  private lengths: Uint32Array
  private docs = 0
  private bytes = 0
  private readonly push = (id: number) => {
    if (this.n === this.ids.length) {
      const grown = new Uint32Array(this.ids.length * 2)
      grown.set(this.ids)
      this.ids = grown
    }
    this.ids[this.n++] = id
  }

  constructor(documents: number, tokens: number) {
    this.lengths = new Uint32Array(Math.max(16, documents))
    this.ids = new Uint32Array(Math.max(1024, tokens))
  }

  add(tokenizer: Tokenizer, text: string): void {
    const from = this.n
    tokenizer.encodeEach(text, this.push)
    if (this.docs === this.lengths.length) {
      const grown = new Uint32Array(this.lengths.length * 2)
      grown.set(this.lengths)
      this.lengths = grown
    }
    this.lengths[this.docs++] = this.n - from
    this.bytes += Buffer.byteLength(text)
  }

  finish(): EncodedBatch {
    return { ids: this.ids.slice(0, this.n), lengths: this.lengths.slice(0, this.docs), bytes: this.bytes }
  }
}

/** The thread's side (main/threads.ts calls it for the `tokenise` task). */
export async function runTokeniseThread(data: unknown): Promise<void> {
  const port = parentPort
  if (!port) throw new Error('runTokeniseThread runs in a worker thread')
  const { tokenizerFile } = data as { tokenizerFile: string }
  let tokenizer: Tokenizer
  try {
    tokenizer = await Tokenizer.fromFile(tokenizerFile)
  } catch (e) {
    port.postMessage({ type: 'error', seq: -1, message: (e as Error).message } satisfies Reply)
    return
  }
  port.on('message', (m: Request) => {
    try {
      const { ids, lengths, bytes } = 'shard' in m ? encodeShard(tokenizer, m.shard) : encodeBatch(tokenizer, m.docs)
      port.postMessage({ type: 'done', seq: m.seq, ids, lengths, bytes } satisfies Reply, [ids.buffer as ArrayBuffer, lengths.buffer as ArrayBuffer])
    } catch (e) {
      port.postMessage({ type: 'error', seq: m.seq, message: (e as Error).message } satisfies Reply)
    }
  })
  port.postMessage({ type: 'ready' } satisfies Reply)
}
