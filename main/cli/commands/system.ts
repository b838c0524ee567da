/** `vernacular doctor` and `vernacular serve`: the machine, and the web UI. */
import { join } from 'node:path'
import { BACKEND_NAMES, type BackendAttempt, type BenchmarkResult, type DoctorReport, type GpuAdapterReport } from '../../engine/contract'
import { EngineError } from '../../engine/common/errors'
import { VERNACULAR_VERSION } from '../../engine/common/version'
import { startServer } from '../../server'
import { JSON_OPT, call, followJob, numberOption, usage, type Command } from '../args'
import { formatBytes, formatDuration } from '../output'

/** Web mode's usual port, so that an SSH tunnel command can stay the same from day to day. */
const DEFAULT_PORT = 8470

function describeAdapter(a: GpuAdapterReport): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unnamed adapter'
  const detail = [a.description, a.device].filter((x) => x && x !== name).join(', ')
  return `${name}${detail ? ` (${detail})` : ''}${a.software ? ', software' : ''}; buffers up to ${formatBytes(a.limits.maxBufferSize)}, storage bindings up to ${formatBytes(a.limits.maxStorageBufferBindingSize)}`
}

function describeAttempt(a: BackendAttempt): string[] {
  const lines = [`    ${a.ok ? '✓' : '✗'} ${a.name.padEnd(9)}${a.reason}`]
  if (a.adapter) lines.push(`      ${' '.repeat(9)}adapter: ${describeAdapter(a.adapter)}`)
  return lines
}

function describeDoctor(r: DoctorReport): string {
  const lines = [
    `Vernacular ${r.vernacularVersion}`,
    `  Node       ${r.node} (${r.platform} ${r.arch})${r.electron ? `, Electron ${r.electron}` : ''}`,
    `  CPU        ${r.cpu.model} × ${r.cpu.cores}`,
    `  Memory     ${formatBytes(r.memory.totalBytes)} total, ${formatBytes(r.memory.freeBytes)} free`,
    `  GPUs       ${r.gpus.length ? r.gpus.map((g) => `${g.name}${g.memoryBytes ? ` (${formatBytes(g.memoryBytes)})` : ''}${g.driver ? `, driver ${g.driver}` : ''}`).join('; ') : 'none found'}`,
    `  Backend    ${r.backend.name}, ${r.backend.requestedBy === 'auto' ? `the first that works of ${BACKEND_NAMES.join(' → ')}` : r.backend.why}`,
    ...(r.backend.adapter ? [`  Adapter    ${describeAdapter(r.backend.adapter)}`] : []),
    ...r.backend.attempts.flatMap(describeAttempt),
    `  Settings   ${r.settingsFile}`,
  ]
  for (const w of r.warnings) lines.push(`  warning: ${w}`)
  return lines.join('\n')
}

export const systemCommands: Command[] = [
  {
    name: 'doctor',
    summary: 'Check the machine: Node, tensor backend and why, CPU, GPU, memory',
    usage: 'vernacular doctor [--bench] [--json]',
    options: { ...JSON_OPT, bench: { type: 'boolean' } },
    async run({ engine, out, values }) {
      const report = await call(this, engine, 'system.doctor', {})
      let bench: BenchmarkResult | undefined
      if (values.bench) {
        const { job } = await call(this, engine, 'system.benchmark', { size: 512, repeats: 20 })
        bench = await followJob(engine, out, job)
      }
      out.result(bench ? { ...report, benchmark: bench } : report, () =>
        describeDoctor(report) + (bench ? `\n  matMul     ${bench.gflops.toFixed(1)} GFLOP/s (${bench.size}×${bench.size} float32 on ${bench.backend}, ${formatDuration(bench.seconds)})` : ''),
      )
    },
  },
  {
    name: 'serve',
    summary: 'Run the web UI on 127.0.0.1 behind a session token',
    usage: 'vernacular serve [--port N (default 8470; 0: any free port)] [--demo] [--json]',
    options: { ...JSON_OPT, port: { type: 'string', short: 'p' }, demo: { type: 'boolean' } },
    async run({ engine, out, values }) {
      const port = numberOption(this, values, 'port') ?? DEFAULT_PORT
      // The port is the CLI's own setting, not an API param: it is checked here.
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(this, `--port must be a number from 0 to 65535 (0: any free port), not "${String(values.port)}".`)
      const staticDir = join(__dirname, '..', 'renderer')
      const server = await startServer({ engine, staticDir, port }).catch((e: NodeJS.ErrnoException) => {
        // The default port is a convenience (stable SSH tunnels); if it is taken, any free port will do.
        if (e.code === 'EADDRINUSE' && values.port === undefined) return startServer({ engine, staticDir, port: 0 })
        if (e.code === 'EADDRINUSE') throw new EngineError('unavailable', `Port ${port} on 127.0.0.1 is already in use.`, { hint: 'Choose another with --port, or --port 0 for any free port.' })
        throw e
      })
      let url = server.openUrl
      if (values.demo) {
        const demo = await call(this, engine, 'project.openDemo', {})
        url += `#/project?dir=${encodeURIComponent(demo.dir)}`
      }
      if (out.json) process.stdout.write(JSON.stringify({ url, port: server.port, token: server.token }) + '\n')
      else process.stdout.write(`Vernacular ${VERNACULAR_VERSION} web mode (loopback only). Open:\n\n  ${url}\n\nPress Ctrl-C to stop.\n`)
      await new Promise<void>((resolve) => {
        const stop = () => resolve()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
      out.info('Stopping…')
      await server.close()
    },
  },
]
