import { main } from './cli/index'

// `npm run serve`: the web mode entry point, the same as `vernacular serve`.
main(['serve', ...process.argv.slice(2)]).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  },
)
