/**
 * Multiple-choice task files: JSONL, one item a line (blank lines skipped), in any of three shapes,
 * told apart line by line by their fields (docs/evaluation.md):
 *
 * - Vernacular's own: `{"context": "…", "choices": ["…", …], "gold": 0}`. Each choice is appended
 *   to the context exactly as written, so a choice carries the space before it, or the context
 *   ends with it, where the language writes one (a Thai cloze has none).
 * - lm-evaluation-harness's processed documents: `{"query": "…", "choices": [...], "gold": 0}`
 *   (`gold` may also be the text of a choice). The harness's target delimiter, one space, goes
 *   between the query and each choice.
 * - Belebele's rows as the dataset has them: `flores_passage`, `question`, `mc_answer1` …
 *   `mc_answer4`, `correct_answer_num` (1-based, a number or a string). The prompt is the
 *   harness's belebele template (lm_eval/tasks/belebele/_default_template_yaml):
 *       doc_to_text: "P: {{flores_passage}}\nQ: {{question.strip()}}\nA: {{mc_answer1}}\nB: {{mc_answer2}}\nC: {{mc_answer3}}\nD: {{mc_answer4}}\nAnswer："
 *       doc_to_choice: ["A", "B", "C", "D"]
 *   which follows the in-context prompt of the Belebele paper (Bandarkar et al. 2023,
 *   arXiv:2308.16884: passage, question, the four answers lettered A–D, then the letter of the
 *   answer), here zero-shot. The colon after
 *   "Answer" is the full-width "：" (U+FF1A) exactly as the harness's template has it, so that
 *   scores compare with the harness's; each choice is a letter after the target delimiter, " A".
 *
 * Every failure names the file and the line.
 */
import { promises as fs } from 'node:fs'
import { EngineError, fsError } from '../common/errors'
import { locateJsonError } from '../common/json'

export type TaskFormat = 'vernacular' | 'harness' | 'belebele'

export interface ChoiceItem {
  /** The item's line in the task file, from 1. */
  line: number
  format: TaskFormat
  context: string
  /** The choices as the item gives them; acc_norm divides by their lengths in characters. */
  choices: string[]
  /** What goes between the context and each choice: '' for Vernacular's shape, ' ' (the harness's target delimiter) for the others. */
  delimiter: string
  /** The index of the right choice, from 0. */
  gold: number
}

export interface ChoiceTask {
  file: string
  items: ChoiceItem[]
}

const SHAPES =
  'Each line must be one JSON object: {"context": "…", "choices": ["…", "…"], "gold": 0}, the harness\'s {"query", "choices", "gold"}, or a Belebele row (flores_passage, question, mc_answer1 … mc_answer4, correct_answer_num).'

/** The harness's belebele prompt for a row (see the top of the file). */
export function belebelePrompt(row: { flores_passage: string; question: string; mc_answer1: string; mc_answer2: string; mc_answer3: string; mc_answer4: string }): string {
  return `P: ${row.flores_passage}\nQ: ${row.question.trim()}\nA: ${row.mc_answer1}\nB: ${row.mc_answer2}\nC: ${row.mc_answer3}\nD: ${row.mc_answer4}\nAnswer\uff1a`
}

export const BELEBELE_CHOICES = ['A', 'B', 'C', 'D'] as const

/** Parses one task line (already known not to be blank) into an item; throws with the line's place. */
export function parseTaskLine(text: string, line: number, file: string): ChoiceItem {
  const fail = (message: string, hint = SHAPES): never => {
    throw new EngineError('bad-input', `${file}, line ${line}: ${message}`, { file, hint })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    const where = locateJsonError(text)
    fail(`not valid JSON${where ? ` at column ${where.column}: ${where.problem}` : ''}.`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(`expected a JSON object, found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}.`)
  const row = value as Record<string, unknown>
  const str = (field: string): string => {
    const v = row[field]
    return typeof v === 'string' ? v : fail(`"${field}" must be a string${v === undefined ? ', and it is missing' : `, not ${JSON.stringify(v)}`}.`)
  }

  if ('flores_passage' in row) {
    const answers = [1, 2, 3, 4].map((k) => str(`mc_answer${k}`))
    const raw = row.correct_answer_num
    const num = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN
    if (!Number.isInteger(num)) fail(`"correct_answer_num" must be 1, 2, 3 or 4, not ${JSON.stringify(raw)}.`)
    if (num < 1 || num > 4) fail(`"correct_answer_num" ${num} is out of range: a Belebele row has 4 answers, numbered 1 … 4.`, 'Fix the answer number.')
    const prompt = belebelePrompt({ flores_passage: str('flores_passage'), question: str('question'), mc_answer1: answers[0]!, mc_answer2: answers[1]!, mc_answer3: answers[2]!, mc_answer4: answers[3]! })
    return { line, format: 'belebele', context: prompt, choices: [...BELEBELE_CHOICES], delimiter: ' ', gold: num - 1 }
  }

  const format: TaskFormat | null = 'context' in row ? 'vernacular' : 'query' in row ? 'harness' : null
  if (!format) return fail(`no "context" (or "query") field; found ${Object.keys(row).length ? Object.keys(row).join(', ') : 'an empty object'}.`)
  const context = str(format === 'vernacular' ? 'context' : 'query')
  const choices = row.choices
  if (!Array.isArray(choices) || choices.length < 2) return fail(`"choices" must be a list of at least two strings${Array.isArray(choices) ? `, not ${choices.length}` : ''}.`)
  choices.forEach((c, k) => {
    if (typeof c !== 'string') fail(`choice ${k} must be a string, not ${JSON.stringify(c)}.`)
    if (c === '') fail(`choice ${k} is empty; acc_norm divides by a choice's length.`, 'Remove the empty choice or give it text.')
  })
  const list = choices as string[]
  const g = row.gold
  let gold: number
  if (typeof g === 'string' && format === 'harness' && list.includes(g)) gold = list.indexOf(g)
  else if (typeof g === 'number' && Number.isInteger(g)) gold = g
  else return fail(`"gold" must be the index of the right choice (0 … ${list.length - 1}), not ${JSON.stringify(g)}.`)
  if (gold < 0 || gold >= list.length) fail(`"gold" ${gold} is out of range: there are ${list.length} choices, numbered 0 … ${list.length - 1}.`, 'Gold is the 0-based index of the right choice.')
  return { line, format, context, choices: list, delimiter: format === 'vernacular' ? '' : ' ', gold }
}

/** Parses a task file's text. */
export function parseTask(text: string, file: string): ChoiceTask {
  const items: ChoiceItem[] = []
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  lines.forEach((l, i) => {
    const line = l.endsWith('\r') ? l.slice(0, -1) : l
    if (line.trim() !== '') items.push(parseTaskLine(line, i + 1, file))
  })
  if (items.length === 0) throw new EngineError('bad-input', `${file} has no items: the task file is empty.`, { file, hint: SHAPES })
  return { file, items }
}

/** Reads a task file (UTF-8 JSONL). */
export async function readTask(file: string): Promise<ChoiceTask> {
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw new EngineError('bad-input', `${file} is a folder, not a task file.`, { file, hint: 'Give a JSONL file.' })
    throw fsError(e, file, 'read')
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new EngineError('bad-input', `${file} is not UTF-8 text.`, { file, hint: 'Give a UTF-8 JSONL file, one item a line.' })
  }
  return parseTask(text, file)
}
