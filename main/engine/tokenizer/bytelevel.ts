/**
 * GPT-2's byte-to-unicode alphabet: every byte gets a printable character, so that byte-level BPE
 * can work on strings. Printable Latin-1 bytes map to themselves; the rest (controls, space, 0x7F
 * to 0xA0, soft hyphen) map to U+0100 onwards in byte order.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array<string>(256)
  let next = 256
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
    table[b] = String.fromCodePoint(printable ? b : next++)
  }
  return table
})()

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]))

const encoder = new TextEncoder()

/** The bytes a byte-level string stands for; characters outside the alphabet are UTF-8 encoded as they are. */
export function fromByteLevel(text: string): Uint8Array {
  const out: number[] = []
  for (const ch of text) {
    const b = CHAR_TO_BYTE.get(ch)
    if (b !== undefined) out.push(b)
    else for (const x of encoder.encode(ch)) out.push(x)
  }
  return Uint8Array.from(out)
}
