import { describe, expect, it } from 'vitest'
import { ApiError } from '../../main/engine/contract'
import { DTYPE_BYTES, defaultCheckpoint, estimatedWeightBytes, formatDtypes, ggufSnippet, isForeignFolderRefusal, loadSnippet, suggestedExportFolder } from '../../renderer/src/export'
import { runStatus } from './fakes'

const cp = (name: string, step: number) => ({ step, dir: `/p/runs/${name}/checkpoints/step-${step}`, pinned: false })

describe('the export choices', () => {
  it('sizes the weights as parameters × bytes per weight', () => {
    expect(DTYPE_BYTES).toEqual({ f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32 })
    expect(estimatedWeightBytes(1_500_000, 'f32')).toBe(6_000_000)
    expect(estimatedWeightBytes(1_500_000, 'bf16')).toBe(3_000_000)
  })

  it('offers the suggested checkpoint, else the newest of the newest run that has one', () => {
    const runs = [runStatus({ name: 'main', checkpoints: [cp('main', 2), cp('main', 4)] }), runStatus({ name: 'no-replay', checkpoints: [cp('no-replay', 6), cp('no-replay', 3)] }), runStatus({ name: 'empty' })]
    expect(defaultCheckpoint(runs, { run: 'main', step: 2, rule: 'r' })).toEqual({ run: 'main', step: 2 })
    expect(defaultCheckpoint(runs, null)).toEqual({ run: 'no-replay', step: 6 })
    // A suggested checkpoint that is gone (not kept) is not offered.
    expect(defaultCheckpoint(runs, { run: 'main', step: 8, rule: 'r' })).toEqual({ run: 'no-replay', step: 6 })
    expect(defaultCheckpoint([runStatus({ name: 'empty' })], null)).toBeNull()
  })

  it('suggests a folder in the project, with the project’s separator', () => {
    expect(suggestedExportFolder('/home/me/magyar', { run: 'main', step: 40 })).toBe('/home/me/magyar/exports/main-step-40')
    expect(suggestedExportFolder('C:\\Users\\me\\magyar\\', { run: 'main', step: 4 })).toBe('C:\\Users\\me\\magyar\\exports\\main-step-4')
    expect(suggestedExportFolder('/home/me/magyar', { run: 'main', step: 40 }, 'gguf')).toBe('/home/me/magyar/exports/main-step-40-gguf')
  })

  it('offers each format its storage types, and says how to run a GGUF export', () => {
    expect(formatDtypes('hf')).toEqual(['f32', 'f16', 'bf16'])
    expect(formatDtypes('gguf')).toEqual(['f32', 'f16', 'q8_0'])
    const snippet = ggufSnippet('/home/me/out dir', [{ name: 'Modelfile' }, { name: 'Magyar-step-4-q8_0.gguf' }])
    expect(snippet).toContain('cd "/home/me/out dir"\nollama create my-model -f Modelfile')
    expect(snippet).toContain('llama-cli -m "/home/me/out dir/Magyar-step-4-q8_0.gguf"')
  })

  it('says how to load the folder, the path as a Python string', () => {
    const snippet = loadSnippet('/tmp/out "x"')
    expect(snippet).toContain('from transformers import AutoModelForCausalLM, AutoTokenizer')
    expect(snippet).toContain('AutoModelForCausalLM.from_pretrained("/tmp/out \\"x\\"")')
    expect(snippet).toContain('AutoTokenizer.from_pretrained("/tmp/out \\"x\\"")')
    expect(loadSnippet('C:\\m')).toContain('from_pretrained("C:\\\\m")')
  })

  it('tells the refusal of a foreign folder from other errors', () => {
    const refusal = new ApiError({ code: 'bad-input', message: '/tmp/x is not empty and was not written by vernacular export (it holds a.txt).', hint: '… --force …' })
    expect(isForeignFolderRefusal(refusal)).toBe(true)
    expect(isForeignFolderRefusal(new ApiError({ code: 'invalid-request', message: '/tmp/x holds the project (/tmp/x/p); exporting there would replace it.' }))).toBe(false)
    expect(isForeignFolderRefusal(new ApiError({ code: 'bad-input', message: '/tmp/x exists and is not a folder.' }))).toBe(false)
    expect(isForeignFolderRefusal(new Error('is not empty and was not written by vernacular export'))).toBe(false)
  })
})
