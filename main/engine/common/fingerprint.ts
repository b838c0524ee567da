/**
 * The fingerprint of a tokenizer's vocabulary: sha256 of `id\ttoken\n` for every id in order.
 * Two tokenizers with the same fingerprint give every id the same token, so a model made for one
 * fits the other. Resized models and vocab-changes.json record it; the model stage compares it.
 */
import { createHash } from 'node:crypto'

/** What the fingerprint reads of a tokenizer. */
export interface Vocabulary {
  readonly vocabSize: number
  idToToken(id: number): string | undefined
}

export function vocabFingerprint(vocab: Vocabulary): string {
  const h = createHash('sha256')
  const size = vocab.vocabSize
  for (let id = 0; id < size; id++) {
    const t = vocab.idToToken(id)
    if (t !== undefined) h.update(`${id}\t${t}\n`)
  }
  return h.digest('hex')
}
