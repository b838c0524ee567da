import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseTask, readTask } from '../../../main/engine/evaluation/tasks'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()
const FILE = '/tasks/t.jsonl'

/** The error a parse throws, as its message and hint. */
function refusal(text: string): { message: string; hint: string | undefined } {
  try {
    parseTask(text, FILE)
  } catch (e) {
    return { message: (e as Error).message, hint: (e as { hint?: string }).hint }
  }
  throw new Error('parsed')
}

describe('multiple-choice task files', () => {
  it('reads Vernacular’s own shape: each choice appended to the context as written', () => {
    const t = parseTask('{"context": "Budapest is the capital of", "choices": [" Hungary", " Thailand"], "gold": 0}\n\n{"context": "", "choices": ["a", "b", "c"], "gold": 2}\n', FILE)
    expect(t.items).toEqual([
      { line: 1, format: 'vernacular', context: 'Budapest is the capital of', choices: [' Hungary', ' Thailand'], delimiter: '', gold: 0 },
      { line: 3, format: 'vernacular', context: '', choices: ['a', 'b', 'c'], delimiter: '', gold: 2 },
    ])
  })

  it('reads the harness’s query/choices/gold with its target delimiter, gold as an index or a choice', () => {
    const t = parseTask('{"query": "Question: 2+2?\\nAnswer:", "choices": ["3", "4"], "gold": 1}\r\n{"query": "Q", "choices": ["yes", "no"], "gold": "no", "id": 7}\r\n', FILE)
    expect(t.items.map(({ format, context, delimiter, gold }) => ({ format, context, delimiter, gold }))).toEqual([
      { format: 'harness', context: 'Question: 2+2?\nAnswer:', delimiter: ' ', gold: 1 },
      { format: 'harness', context: 'Q', delimiter: ' ', gold: 1 },
    ])
  })

  it('reads Belebele rows as they are, with the harness’s belebele prompt and letters as choices', () => {
    const row = {
      link: 'https://en.wikibooks.org/wiki/Accordion/Right_hand',
      question_number: 1,
      flores_passage: 'Make sure your hand is as relaxed as possible.',
      question: ' According to the passage, what would not be considered an accurate tip? ',
      mc_answer1: 'Keep your hand relaxed',
      mc_answer2: 'Use too much force',
      mc_answer3: 'Make extra movements',
      mc_answer4: 'Avoid using the thumb',
      correct_answer_num: '2',
      dialect: 'eng_Latn',
      ds: '2023-05-03',
    }
    const [item] = parseTask(JSON.stringify(row) + '\n' + JSON.stringify({ ...row, correct_answer_num: 4 }), FILE).items
    expect(item).toEqual({
      line: 1,
      format: 'belebele',
      context:
        'P: Make sure your hand is as relaxed as possible.\nQ: According to the passage, what would not be considered an accurate tip?\nA: Keep your hand relaxed\nB: Use too much force\nC: Make extra movements\nD: Avoid using the thumb\nAnswer：',
      choices: ['A', 'B', 'C', 'D'],
      delimiter: ' ',
      gold: 1,
    })
    expect(parseTask(JSON.stringify({ ...row, correct_answer_num: 4 }), FILE).items[0]!.gold).toBe(3)
    expect(refusal(JSON.stringify(row) + '\n' + JSON.stringify({ ...row, correct_answer_num: '5' })).message).toBe(
      `${FILE}, line 2: "correct_answer_num" 5 is out of range: a Belebele row has 4 answers, numbered 1 … 4.`,
    )
    const { mc_answer3: _, ...missing } = row
    expect(refusal(JSON.stringify(missing)).message).toBe(`${FILE}, line 1: "mc_answer3" must be a string, and it is missing.`)
  })

  it('names the line of a malformed item, and says what shapes it takes', () => {
    const good = '{"context": "a", "choices": ["b", "c"], "gold": 0}'
    const bad = refusal(`${good}\n${good}\n{"context": "a", "choices": ["b", "c"] "gold": 0}\n`)
    expect(bad.message).toMatch(new RegExp(`^${FILE}, line 3: not valid JSON at column 40: unexpected .*\\.$`))
    expect(bad.hint).toMatch(/\{"context": "…", "choices": \["…", "…"\], "gold": 0\}/)
    expect(refusal(`${good}\n[1, 2]`).message).toBe(`${FILE}, line 2: expected a JSON object, found an array.`)
    expect(refusal(`{"text": "a", "label": 1}`).message).toBe(`${FILE}, line 1: no "context" (or "query") field; found text, label.`)
    expect(refusal(`{"context": "a", "choices": ["b"], "gold": 0}`).message).toBe(`${FILE}, line 1: "choices" must be a list of at least two strings, not 1.`)
    expect(refusal(`{"context": "a", "choices": ["b", ""], "gold": 0}`).message).toBe(`${FILE}, line 1: choice 1 is empty; acc_norm divides by a choice's length.`)
    expect(refusal(`{"context": "a", "choices": ["b", 3], "gold": 0}`).message).toBe(`${FILE}, line 1: choice 1 must be a string, not 3.`)
    expect(refusal(`{"context": "a", "choices": ["b", "c"], "gold": "c"}`).message).toBe(`${FILE}, line 1: "gold" must be the index of the right choice (0 … 1), not "c".`)
  })

  it('refuses a gold index out of range, naming the line', () => {
    const good = '{"context": "a", "choices": ["b", "c"], "gold": 1}'
    const bad = refusal(`${good}\n${good}\n${good}\n{"context": "a", "choices": ["b", "c", "d"], "gold": 3}`)
    expect(bad.message).toBe(`${FILE}, line 4: "gold" 3 is out of range: there are 3 choices, numbered 0 … 2.`)
    expect(refusal(`{"query": "a", "choices": ["b", "c"], "gold": -1}`).message).toBe(`${FILE}, line 1: "gold" -1 is out of range: there are 2 choices, numbered 0 … 1.`)
  })

  it('refuses an empty file, a missing one and one that is not UTF-8', async () => {
    const dir = tmp()
    const empty = join(dir, 'empty.jsonl')
    await fs.writeFile(empty, '\n \n')
    await expect(readTask(empty)).rejects.toThrow(`${empty} has no items: the task file is empty.`)
    await expect(readTask(join(dir, 'nope.jsonl'))).rejects.toMatchObject({ code: 'not-found' })
    const latin = join(dir, 'latin.jsonl')
    await fs.writeFile(latin, Buffer.from('{"context": "\xe1", "choices": ["b", "c"], "gold": 0}\n', 'latin1'))
    await expect(readTask(latin)).rejects.toThrow(`${latin} is not UTF-8 text.`)
    const ok = join(dir, 'ok.jsonl')
    await fs.writeFile(ok, '\uFEFF{"context": "a", "choices": ["b", "c"], "gold": 0}\n')
    expect((await readTask(ok)).items).toHaveLength(1)
  })
})
