import { parseArgs } from 'node:util'
import { toErrorInfo } from '../engine/common/errors'
import { VERNACULAR_VERSION } from '../engine/common/version'
import { Engine } from '../engine/api/engine'
import { type Command, type Options, type Values, usage, withUsage } from './args'
import { corpusCommands } from './commands/corpus'
import { modelCommands } from './commands/model'
import { projectCommands } from './commands/project'
import { sampleCommands } from './commands/sample'
import { systemCommands } from './commands/system'
import { tokenizerCommands } from './commands/tokenizer'
import { trainingCommands } from './commands/training'
import { evaluationCommands } from './commands/evaluation'
import { adaptCommands } from './commands/adapt'
import { exportCommands } from './commands/export'
import { handoffCommands } from './commands/handoff'
import { createOutput } from './output'
import { forkWorker } from '../spawn'

/**
 * `vernacular`: the headless way into the engine. Every command is a thin layer over the same
 * engine methods the desktop app and web mode call; the commands live in commands/, one file per
 * stage in the order the data flows.
 */
const COMMANDS: Command[] = [...projectCommands, ...corpusCommands, ...tokenizerCommands, ...modelCommands, ...sampleCommands, ...trainingCommands, ...evaluationCommands, ...exportCommands, ...handoffCommands, ...adaptCommands, ...systemCommands]

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    `Vernacular ${VERNACULAR_VERSION}: adapt a pretrained language model to a new language.`,
    '',
    'Usage: vernacular <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options for every command:',
    '  --json, -j   machine output: the result as one JSON document on stdout, progress as JSON lines on stderr',
    '  --help, -h   help for the command',
    '',
    'Environment: VERNACULAR_BACKEND=auto|node-gpu|node|wasm|cpu picks the tensor backend; VERNACULAR_HOME moves the settings folder.',
  ].join('\n')
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options).map(([k, o]) => `  --${k}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' VALUE' : ''}`)
  return [`${c.summary}.`, '', `Usage: ${c.usage}`, '', 'Options:', ...opts, '  --help, -h'].join('\n')
}

/** Finds the command named by the leading words of argv (`project create …`). */
function findCommand(argv: string[]): { cmd: Command; rest: string[] } | null {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ')
    const cmd = COMMANDS.find((c) => c.name === name)
    if (cmd) return { cmd, rest: argv.slice(words) }
  }
  return null
}

/** `--corpus a b c` → `--corpus a --corpus b --corpus c` for options that take several values. */
function expandLists(args: string[], options: Options): string[] {
  const out: string[] = []
  let list: string | null = null
  for (const a of args) {
    if (a.startsWith('-')) {
      const name = a.replace(/^--?/, '').split('=')[0]!
      list = options[name]?.multiple && !a.includes('=') ? a : null
      out.push(a)
      continue
    }
    if (list !== null && out[out.length - 1] !== list) out.push(list)
    out.push(a)
  }
  return out
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const wantsJson = argv.includes('--json') || argv.includes('-j')
  const out = createOutput({ json: wantsJson })
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(globalHelp() + '\n')
    return argv.length === 0 ? 2 : 0
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    process.stdout.write(VERNACULAR_VERSION + '\n')
    return 0
  }
  const found = findCommand(argv)
  if (!found) {
    const group = COMMANDS.filter((c) => c.name.startsWith(argv[0] + ' '))
    out.error(
      toErrorInfo(
        group.length
          ? usage(null, `"${argv.slice(0, 2).join(' ')}" is not a command. ${argv[0]} has: ${group.map((c) => c.name.split(' ')[1]).join(', ')}.`)
          : usage(null, `Unknown command "${argv[0]}".`),
      ),
    )
    return 2
  }
  const { cmd, rest } = found
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(cmd) + '\n')
    return 0
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: expandLists(rest, cmd.options), options: cmd.options, allowPositionals: true, strict: true })
  } catch (e) {
    out.error(toErrorInfo(usage(cmd, (e as Error).message)))
    return 2
  }
  const engine = new Engine({ mode: 'cli', cwd: process.cwd(), spawnWorker: forkWorker })
  try {
    await cmd.run({ engine, out, positionals: parsed.positionals, values: parsed.values as Values })
    return 0
  } catch (e) {
    // A refused request: the engine's own hint, if it has one, and then the command's usage.
    const info = withUsage(cmd, toErrorInfo(e))
    out.error(info)
    return info.code === 'invalid-request' ? 2 : info.code === 'cancelled' ? 130 : 1
  } finally {
    await engine.close()
  }
}

// Run when executed as the `vernacular` bin (not when imported by tests or by serve.ts).
if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
      process.exitCode = 1
    },
  )
}
