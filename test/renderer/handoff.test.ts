import { describe, expect, it } from 'vitest'
import { ApiError } from '../../main/engine/contract'
import { bundleBytes, clusterCommands, clusterOutputFolder, handoffRuns, importedNote, importedRunName, isForeignBundleRefusal, suggestedBundleFolder } from '../../renderer/src/handoff'
import { runStatus } from './fakes'

describe('Run on a cluster', () => {
  it('suggests a bundle folder next to the project, with the project’s separator', () => {
    expect(suggestedBundleFolder('/home/me/magyar')).toBe('/home/me/magyar-cluster')
    expect(suggestedBundleFolder('/home/me/magyar/')).toBe('/home/me/magyar-cluster')
    expect(suggestedBundleFolder('C:\\Users\\me\\magyar')).toBe('C:\\Users\\me\\magyar-cluster')
    expect(suggestedBundleFolder('/magyar')).toBe('/magyar-cluster')
    expect(suggestedBundleFolder('magyar')).toBe('magyar-cluster')
  })

  it('offers the bundle’s output folder and `<run>-cluster` for bringing the run back', () => {
    expect(clusterOutputFolder('/home/me/magyar-cluster')).toBe('/home/me/magyar-cluster/output')
    expect(clusterOutputFolder('D:\\b')).toBe('D:\\b\\output')
    expect(importedRunName('main')).toBe('main-cluster')
  })

  it('gives FSDP’s one-GPU command, eight GPUs and several nodes; LLaMA-Factory’s every GPU and several nodes', () => {
    const fsdp = clusterCommands({ target: 'fsdp', command: './launch.sh --nproc-per-node 1' }).map((c) => c.command)
    expect(fsdp[0]).toContain('pip install -r requirements.txt')
    expect(fsdp.slice(1)).toEqual([
      './launch.sh --nproc-per-node 1',
      './launch.sh --nproc-per-node 8',
      './launch.sh --nproc-per-node 8 --nnodes 4 --node-rank R --rdzv-endpoint HOST:29500',
    ])
    const lf = clusterCommands({ target: 'llamafactory', command: './launch.sh' }).map((c) => c.command)
    expect(lf.slice(1)).toEqual(['./launch.sh', './launch.sh --nnodes 2 --node-rank R --master-addr HOST'])
  })

  it('sums the bundle’s files', () => {
    expect(bundleBytes([{ bytes: 10 }, { bytes: 32 }])).toBe(42)
    expect(bundleBytes([])).toBe(0)
  })

  it('tells the refusal of a foreign folder from other errors', () => {
    expect(isForeignBundleRefusal(new ApiError({ code: 'bad-input', message: '/tmp/x is not empty and was not written by vernacular handoff (it holds a.txt).' }))).toBe(true)
    expect(isForeignBundleRefusal(new ApiError({ code: 'invalid-request', message: '/p/x is inside the project; a bundle is carried to another machine, so it lives outside.' }))).toBe(false)
    expect(isForeignBundleRefusal(new ApiError({ code: 'bad-input', message: '/tmp/x is not empty and was not written by vernacular export (it holds a.txt).' }))).toBe(false)
    expect(isForeignBundleRefusal(new Error('is not empty and was not written by vernacular handoff'))).toBe(false)
  })

  it('marks imported runs, and offers only the others for a bundle', () => {
    const ext = runStatus({ name: 'ext', state: 'done', imported: { from: '/data/out', at: '2026-01-01T00:00:00.000Z' } })
    const main = runStatus({ name: 'main', state: 'paused' })
    expect(importedNote(ext)).toBe('trained elsewhere (imported from /data/out)')
    expect(importedNote(main)).toBeNull()
    expect(handoffRuns([main, ext])).toEqual(['main'])
  })
})
