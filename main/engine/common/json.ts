/**
 * Finds where JSON text goes wrong. `JSON.parse` in current V8 no longer says where; this scanner
 * walks the grammar and returns the offset and a description of the first error. It runs only
 * after `JSON.parse` has failed, so it need not be fast.
 */
export interface JsonErrorLocation {
  offset: number
  line: number
  column: number
  problem: string
}

export function locateJsonError(text: string): JsonErrorLocation | null {
  let i = 0
  const fail = (problem: string): never => {
    throw { offset: i, problem }
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++
  }
  const describe = () => (i >= text.length ? 'the text ends too early' : `unexpected ${JSON.stringify(text[i])}`)
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length
    else fail(`${describe()} (expected a value)`)
  }
  const string = () => {
    i++ // opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === 34) {
        i++
        return
      }
      if (c < 32) fail('a control character (such as a line break) inside a string')
      if (c === 92) {
        const e = text[i + 1]
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('a bad \\u escape')
          i += 6
          continue
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail('a bad escape in a string')
        i += 2
        continue
      }
      i++
    }
    fail('a string that is never closed')
  }
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
    if (!m) fail(`${describe()} (expected a value)`)
    i += (m as RegExpExecArray)[0].length
  }
  const value = (): void => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      ws()
      if (text[i] === '}') return void i++
      for (;;) {
        ws()
        if (text[i] !== '"') fail(`${describe()} (expected a "quoted" key)`)
        string()
        ws()
        if (text[i] !== ':') fail(`${describe()} (expected ':')`)
        i++
        value()
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') return void i++
        fail(`${describe()} (expected ',' or '}')`)
      }
    }
    if (c === '[') {
      i++
      ws()
      if (text[i] === ']') return void i++
      for (;;) {
        value()
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') return void i++
        fail(`${describe()} (expected ',' or ']')`)
      }
    }
    if (c === '"') return string()
    if (c === 't') return literal('true')
    if (c === 'f') return literal('false')
    if (c === 'n') return literal('null')
    return number()
  }
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1
    value()
    ws()
    if (i < text.length) fail(`${describe()} after the end of the JSON value`)
    return null
  } catch (e) {
    const { offset, problem } = e as { offset: number; problem: string }
    let line = 1
    let lineStart = 0
    for (let k = 0; k < offset && k < text.length; k++) {
      if (text.charCodeAt(k) === 10) {
        line++
        lineStart = k + 1
      }
    }
    return { offset, line, column: offset - lineStart + 1, problem }
  }
}

/** `JSON.parse`, or an Error whose message says where and what (`line 3, column 11: unexpected "o"`). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    if (text.trim() === '') throw new Error('the file is empty', { cause: e })
    const loc = locateJsonError(text)
    throw new Error(loc ? `line ${loc.line}, column ${loc.column}: ${loc.problem}` : (e as Error).message, { cause: e })
  }
}
