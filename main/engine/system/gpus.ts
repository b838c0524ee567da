import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { GpuInfo } from '../contract'

/**
 * Finds the machine's GPUs without any GPU library: `nvidia-smi` where it exists, else what Linux
 * lists under /proc/driver/nvidia and /sys/class/drm. Never throws; an empty list means none found.
 */

function run(cmd: string, args: string[], timeoutMs = 4000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, windowsHide: true }, (err, stdout) => resolve(err ? null : stdout))
  })
}

export function parseNvidiaSmi(csv: string): GpuInfo[] {
  return csv
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const [name = 'NVIDIA GPU', mem, driver] = line.split(',').map((s) => s.trim())
      const mib = Number(mem)
      return { name, memoryBytes: Number.isFinite(mib) && mib > 0 ? mib * 1024 * 1024 : null, driver: driver || null, source: 'nvidia-smi' }
    })
}

const PCI_VENDORS: Record<string, string> = { '0x10de': 'NVIDIA', '0x1002': 'AMD', '0x8086': 'Intel', '0x1af4': 'virtio' }

async function fromLinux(): Promise<GpuInfo[]> {
  const found: GpuInfo[] = []
  const procDir = '/proc/driver/nvidia/gpus'
  for (const bus of await fs.readdir(procDir).catch(() => [] as string[])) {
    const info = await fs.readFile(join(procDir, bus, 'information'), 'utf8').catch(() => '')
    const model = /Model:\s*(.+)/.exec(info)?.[1]?.trim()
    found.push({ name: model ?? 'NVIDIA GPU', memoryBytes: null, driver: null, source: '/proc/driver/nvidia' })
  }
  if (found.length) return found
  const drm = '/sys/class/drm'
  for (const card of await fs.readdir(drm).catch(() => [] as string[])) {
    if (!/^card\d+$/.test(card)) continue
    const vendor = (await fs.readFile(join(drm, card, 'device', 'vendor'), 'utf8').catch(() => '')).trim()
    if (!vendor || vendor === '0x1af4') continue
    found.push({ name: `${PCI_VENDORS[vendor] ?? `vendor ${vendor}`} GPU (${card})`, memoryBytes: null, driver: null, source: '/sys/class/drm' })
  }
  return found
}

export async function detectGpus(): Promise<GpuInfo[]> {
  const smi = await run('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'])
  if (smi) {
    const gpus = parseNvidiaSmi(smi)
    if (gpus.length) return gpus
  }
  return process.platform === 'linux' ? fromLinux() : []
}
