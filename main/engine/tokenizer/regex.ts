/**
 * Hugging Face `tokenizers` compiles Split patterns with Oniguruma. JavaScript's `u`-mode RegExp
 * accepts nearly the same syntax; this translates the parts that differ:
 * - `\s` / `\S`: Oniguruma's Unicode whitespace is exactly the White_Space property (JS `\s` also
 *   matches U+FEFF and misses U+0085);
 * - `\d`: Unicode decimal digits, not just ASCII;
 * - `(?i:...)`: scoped case-insensitivity (not in Node 20's V8), by spelling each ASCII letter as a class;
 * - possessive quantifiers `?+ *+ ++` (cl100k-style patterns), by the lookahead-and-backreference idiom for atomic groups.
 */
import { EngineError } from '../common/errors'

const WS = '\\p{White_Space}'
const NWS = '\\P{White_Space}'

export function translateOnigPattern(pattern: string): string {
  let out = ''
  let inClass = false
  let caseless = 0 // depth inside (?i: ... )
  const groupStack: boolean[] = [] // for each open group: does it start a caseless scope?
  let atomStart = -1 // index in `out` where the last complete atom starts
  let extraGroups = 0 // named groups introduced for possessive quantifiers (p1, p2, …)
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '\\') {
      const n = pattern[i + 1]
      if (n === undefined) throw new Error('pattern ends in a backslash')
      let piece: string
      if (n === 's') piece = inClass ? WS : `[${WS}]`
      else if (n === 'S') piece = inClass ? NWS : `[${NWS}]`
      else if (n === 'd') piece = inClass ? '\\p{Nd}' : '[\\p{Nd}]'
      else if (n === 'D') piece = inClass ? '\\P{Nd}' : '[\\P{Nd}]'
      else if ((n === 'p' || n === 'P') && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i)
        piece = pattern.slice(i, close + 1)
        i = close - 1
      } else if (n === 'x' && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i)
        piece = `\\u{${pattern.slice(i + 3, close)}}`
        i = close - 1
      } else piece = '\\' + n
      if (!inClass) atomStart = out.length
      out += piece
      i++
      continue
    }
    if (inClass) {
      out += c
      if (c === ']') {
        inClass = false
      }
      continue
    }
    if (c === '[') {
      inClass = true
      atomStart = out.length
      out += c
      if (pattern[i + 1] === '^') {
        out += '^'
        i++
      }
      if (pattern[i + 1] === ']') {
        out += '\\]'
        i++
      }
      continue
    }
    if (c === '(') {
      if (pattern.startsWith('(?i:', i)) {
        groupStack.push(true)
        caseless++
        out += '(?:'
        i += 3
        continue
      }
      if (pattern.startsWith('(?i)', i)) throw new Error('global (?i) flag is not supported')
      groupStack.push(false)
      out += '('
      continue
    }
    if (c === ')') {
      const wasCaseless = groupStack.pop()
      if (wasCaseless === undefined) throw new Error('unbalanced parenthesis')
      if (wasCaseless) caseless--
      out += ')'
      // The atom is the whole group: find its opening parenthesis in `out`.
      atomStart = findGroupStart(out)
      continue
    }
    if ((c === '?' || c === '*' || c === '+' || c === '}') && pattern[i + 1] === '+') {
      // Possessive quantifier on the atom that ends here: (?=(atom q))\k
      const quant = c === '}' ? out.slice(out.lastIndexOf('{')) + '}' : c
      const atomEnd = c === '}' ? out.lastIndexOf('{') : out.length
      const atom = out.slice(atomStart, atomEnd)
      extraGroups++
      const name = `p${extraGroups}`
      out = out.slice(0, atomStart) + `(?=(?<${name}>${atom}${quant}))\\k<${name}>`
      i++
      continue
    }
    if (caseless > 0 && /[a-zA-Z]/.test(c)) {
      atomStart = out.length
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`
      continue
    }
    if (c === '{') {
      // a counted quantifier; copy through its closing brace
      const close = pattern.indexOf('}', i)
      if (pattern[close + 1] === '+') {
        out += pattern.slice(i, close)
        i = close - 1
        continue
      }
      out += pattern.slice(i, close + 1)
      i = close
      continue
    }
    if (c !== '?' && c !== '*' && c !== '+' && c !== '|') atomStart = out.length
    out += c
  }
  if (inClass || groupStack.length > 0) throw new Error('unterminated class or group')
  return out
}

function findGroupStart(out: string): number {
  let inClass = false
  // scan forward, tracking the positions of open groups; the last ')' closes the group we want
  const opens: number[] = []
  for (let i = 0; i < out.length; i++) {
    const c = out[i]
    if (c === '\\') {
      i++
      continue
    }
    if (inClass) {
      if (c === ']') inClass = false
      continue
    }
    if (c === '[') inClass = true
    else if (c === '(') {
      opens.push(i)
    } else if (c === ')') {
      const start = opens.pop()
      if (i === out.length - 1) return start ?? 0
    }
  }
  return 0
}

const cache = new Map<string, RegExp>()

/** A global, Unicode RegExp equivalent to the Oniguruma `pattern`; `where` names it in errors. */
export function compileOnig(pattern: string, where: string): RegExp {
  const hit = cache.get(pattern)
  if (hit) return new RegExp(hit.source, hit.flags)
  let re: RegExp
  try {
    re = new RegExp(translateOnigPattern(pattern), 'gu')
  } catch (e) {
    throw new EngineError('bad-input', `${where}: the regular expression ${JSON.stringify(pattern)} cannot be used: ${(e as Error).message}`, {
      hint: 'Vernacular supports the Oniguruma syntax used by GPT-2, Llama 3, Qwen and similar pre-tokenizers. Report this pattern if a published tokenizer uses it.',
    })
  }
  cache.set(pattern, re)
  return new RegExp(re.source, re.flags)
}

/** Escapes a literal string for use in a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}
