/**
 * A Hub model before it is downloaded: its files and size from the listing, and, from its
 * config.json alone, whether training it fits this machine (the Base model step's estimate).
 */
import { promises as fs } from 'node:fs'
import type { HubModelInfo, MemoryEstimateResult } from '../contract'
import { DEFAULT_TRAINING } from '../contract'
import { readManifest } from '../project/manifest'
import { parseModelConfig } from '../model/config'
import { estimateMemory, parameterCount } from '../model/memory'
import { heldShape, paramSpecs } from '../model/names'
import { trainingDevice } from '../model/project'
import { type HubOptions, fetchConfig, planDownload } from './client'

export async function hubModelInfo(repo: string, revision: string | undefined, projectDir: string | undefined, opts: HubOptions = {}): Promise<HubModelInfo> {
  const plan = await planDownload(repo, revision, opts)
  let cached = true
  for (const f of plan.files) {
    const size = await fs.stat(plan.cache.blob(f.oid)).then((st) => st.size, () => -1)
    if (size !== f.bytes) cached = false
  }
  const t = projectDir ? (await readManifest(projectDir)).training : DEFAULT_TRAINING
  const training = { batch: t.batchSize, seqLen: t.sequenceLength, optimizer: 'adamw' as const }
  const device = await trainingDevice()
  const info: HubModelInfo = {
    repo,
    revision: plan.session.revision,
    commit: plan.listing.commit,
    gated: plan.listing.gated,
    files: plan.files.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 })),
    totalBytes: plan.totalBytes,
    cached,
    model: null,
    problem: null,
    training,
    estimate: null,
    recomputed: null,
    device,
    fits: null,
    fitsRecomputed: null,
  }
  const configFile = await fetchConfig(plan)
  try {
    const config = parseModelConfig(JSON.parse(await fs.readFile(configFile, 'utf8')), 'config.json')
    const architectures = config.raw.architectures
    info.model = {
      architecture: Array.isArray(architectures) && typeof architectures[0] === 'string' ? architectures[0] : config.modelType,
      modelType: config.modelType,
      family: config.arch,
      parameters: parameterCount(config),
      vocabulary: config.vocabSize,
      layers: config.numLayers,
      maxPositions: config.maxPositions,
      dtype: config.dtype,
    }
    const opts = { batch: training.batch, seqLen: Math.min(training.seqLen, config.maxPositions), optimizer: 'adamw' as const }
    info.estimate = estimateMemory(config, opts)
    info.recomputed = estimateMemory(config, { ...opts, recompute: true })
    const largestWeight = 4 * Math.max(...paramSpecs(config).map((p) => heldShape(p).reduce((a, b) => a * b, 1)))
    const fits = (e: MemoryEstimateResult) => (device.maxBufferBytes !== undefined && largestWeight > device.maxBufferBytes ? false : device.memoryBytes === null ? null : e.total <= device.memoryBytes)
    info.fits = fits(info.estimate)
    info.fitsRecomputed = fits(info.recomputed)
  } catch (e) {
    info.problem = (e as Error).message
  }
  return info
}
