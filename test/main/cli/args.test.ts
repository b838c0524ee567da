import { describe, expect, it } from 'vitest'
import type { Engine } from '../../../main/engine/api/engine'
import { call, defined, numberList, positionals, toNumber, usage, withUsage, type Command } from '../../../main/cli/args'
import { createOutput } from '../../../main/cli/output'
import { EngineError, toErrorInfo } from '../../../main/engine/common/errors'

const cmd: Command = {
  name: 'vocab extend',
  summary: 'test',
  usage: 'vernacular vocab extend PROJECT --mode add|replace --count N',
  options: {},
  names: { dir: 'PROJECT' },
  async run() {},
}

/** An engine that records what reaches it. */
function engine(): Engine & { seen: unknown[] } {
  const seen: unknown[] = []
  return { seen, invoke: async (method: string, params: unknown) => (seen.push([method, params]), { ok: true }) } as unknown as Engine & { seen: unknown[] }
}

async function refusal(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  )
  expect(e).toBeInstanceOf(EngineError)
  return e as EngineError
}

describe('CLI params judged by the contract', () => {
  it('words the schema’s verdict as flags, with the usage as the hint, and calls nothing', async () => {
    const e = engine()
    const err = await refusal(call(cmd, e, 'vocab.extend', { dir: '/p', mode: 'both', count: 0 }))
    expect(err.code).toBe('invalid-request')
    expect(err.message).toBe('--mode must be add or replace, not "both". --count must be at least 1, not "0".')
    expect(err.hint).toBe(`Usage: ${cmd.usage}`)
    expect(e.seen).toEqual([])
  })

  it('names positionals, missing flags, whole numbers, upper limits and list items', async () => {
    const e = engine()
    expect((await refusal(call(cmd, e, 'vocab.extend', { mode: 'add', count: 5 }))).message).toBe('PROJECT is required.')
    expect((await refusal(call(cmd, e, 'vocab.extend', { dir: '/p', count: 5 }))).message).toBe('--mode must be add or replace.')
    expect((await refusal(call(cmd, e, 'vocab.extend', { dir: '/p', mode: 'add', count: 2.5 }))).message).toBe('--count must be a whole number, not "2.5".')
    expect((await refusal(call(cmd, e, 'vocab.extend', { dir: '/p', mode: 'add', count: 300_000 }))).message).toBe('--count must be at most 200000, not "300000".')
    expect((await refusal(call(cmd, e, 'vocab.sweep', { dir: '/p', counts: [0, -5] }))).message).toBe('--counts (item 2) must be at least 0, not "-5".')
    expect((await refusal(call(cmd, e, 'corpus.add', { dir: '/p', role: 'target', paths: ['a'], options: { heldoutFraction: 0.9 } }))).message).toBe('--heldout-fraction must be at most 0.5, not "0.9".')
    expect(e.seen).toEqual([])
  })

  it('passes params the schema accepts to the engine unchanged (defaults are the engine’s to fill)', async () => {
    const e = engine()
    await call(cmd, e, 'vocab.extend', { dir: '/p', mode: 'replace', count: 5000 })
    await call(cmd, e, 'model.resize', defined({ model: 'm', changes: 'c', out: 'o', init: undefined, seed: undefined }))
    expect(e.seen).toEqual([
      ['vocab.extend', { dir: '/p', mode: 'replace', count: 5000 }],
      ['model.resize', { model: 'm', changes: 'c', out: 'o' }],
    ])
  })

  it('turns words into numbers and lists, and refuses words that are no number', () => {
    expect(toNumber(cmd, '--count', '5k')).toBe(5000)
    expect(toNumber(cmd, '--count', '0.25')).toBe(0.25)
    expect(numberList(cmd, '--counts', '0, 1k,5000,')).toEqual([0, 1000, 5000])
    expect(() => toNumber(cmd, '--count', 'many')).toThrow('--count must be a number, not "many".')
    expect(() => toNumber(cmd, '--count', ' ')).toThrow('must be a number')
    expect(positionals(cmd, ['/p', 'x'], ['PROJECT', 'T.json'])).toEqual(['/p', 'x'])
    expect(() => positionals(cmd, ['/p'], ['PROJECT', 'T.json'])).toThrow('PROJECT and T.json are required.')
  })
})

/** A stream that keeps what is written to it. */
function stream(): NodeJS.WriteStream & { text: string } {
  const s = { text: '', isTTY: false, write: (chunk: string) => ((s.text += chunk), true) }
  return s as unknown as NodeJS.WriteStream & { text: string }
}

describe('a refused request on the command line', () => {
  const tooLong = () => toErrorInfo(new EngineError('invalid-request', "A sequence of 128 tokens is longer than the model's context (64).", { hint: 'Use --seq-len 64 or less.' }))

  it('keeps the error’s own hint and adds the usage after it', () => {
    expect(withUsage(cmd, tooLong())).toEqual({
      code: 'invalid-request',
      message: "A sequence of 128 tokens is longer than the model's context (64).",
      hint: `Use --seq-len 64 or less.\nUsage: ${cmd.usage}`,
    })
  })

  it('gives the usage as the hint where there is none, and leaves usage errors and other errors alone', () => {
    expect(withUsage(cmd, toErrorInfo(new EngineError('invalid-request', 'No.')))).toEqual({ code: 'invalid-request', message: 'No.', hint: `Usage: ${cmd.usage}` })
    const usageError = toErrorInfo(usage(cmd, '--count is required.'))
    expect(withUsage(cmd, usageError)).toEqual(usageError)
    const notFound = toErrorInfo(new EngineError('not-found', 'No such file.', { hint: 'Check the path.' }))
    expect(withUsage(cmd, notFound)).toEqual(notFound)
  })

  it('prints the message, then the hint, then the usage; with --json, one document with the hint', () => {
    const human = { stdout: stream(), stderr: stream() }
    createOutput({ json: false, ...human }).error(withUsage(cmd, tooLong()))
    expect(human.stdout.text).toBe('')
    expect(human.stderr.text).toBe(
      ["error: A sequence of 128 tokens is longer than the model's context (64).", 'hint: Use --seq-len 64 or less.', `Usage: ${cmd.usage}`, ''].join('\n'),
    )
    const json = { stdout: stream(), stderr: stream() }
    createOutput({ json: true, ...json }).error(withUsage(cmd, tooLong()))
    expect(json.stderr.text).toBe('')
    expect(JSON.parse(json.stdout.text)).toEqual({ error: { code: 'invalid-request', message: expect.any(String), hint: `Use --seq-len 64 or less.\nUsage: ${cmd.usage}` } })
  })
})
