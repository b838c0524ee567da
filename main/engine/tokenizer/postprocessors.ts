/**
 * Post-processors from tokenizer.json for a single sequence: TemplateProcessing, BertProcessing,
 * RobertaProcessing, ByteLevel (no change to ids) and Sequence. They add the special tokens a
 * model expects around the text (Llama's `<s>`), and only when the caller asks for them.
 */
import { EngineError } from '../common/errors'

export type PostProcessor = (ids: number[]) => number[]

type Json = Record<string, unknown>

export function buildPostProcessor(json: unknown, where = 'post_processor'): PostProcessor | null {
  if (json === null || json === undefined) return null
  const p = json as Json
  switch (p.type) {
    case 'Sequence': {
      const list = ((p.processors as unknown[] | undefined) ?? []).map((x, i) => buildPostProcessor(x, `${where}.processors[${i}]`)).filter((x): x is PostProcessor => x !== null)
      return (ids) => list.reduce((acc, f) => f(acc), ids)
    }
    case 'ByteLevel':
      return (ids) => ids
    case 'TemplateProcessing': {
      const special = (p.special_tokens ?? {}) as Record<string, { ids?: number[] }>
      const single = (p.single as Json[] | undefined) ?? []
      const plan: (number[] | 'A')[] = single.map((item, i) => {
        if (item.Sequence) return 'A'
        const st = item.SpecialToken as { id?: string } | undefined
        const ids = st?.id !== undefined ? special[st.id]?.ids : undefined
        if (!ids) throw new EngineError('bad-input', `${where}.single[${i}]: special token ${JSON.stringify(st?.id)} is not in special_tokens`)
        return ids
      })
      return (ids) => plan.flatMap((x) => (x === 'A' ? ids : x))
    }
    case 'BertProcessing':
    case 'RobertaProcessing': {
      const cls = (p.cls as [string, number] | undefined)?.[1]
      const sep = (p.sep as [string, number] | undefined)?.[1]
      if (typeof cls !== 'number' || typeof sep !== 'number') throw new EngineError('bad-input', `${where}: cls and sep must be [token, id]`)
      return (ids) => [cls, ...ids, sep]
    }
    default:
      throw new EngineError('bad-input', `${where}: the post-processor type ${JSON.stringify(p.type)} is not supported yet`, {
        hint: 'Supported post-processors: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence.',
      })
  }
}
