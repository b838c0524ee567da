import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  JOB_KINDS,
  METHOD_NAMES,
  MODEL_RESIZE_JOB,
  isJobOf,
  methods,
  type JobSnapshot,
  type MethodName,
  type ResizeSummary,
  type Result,
  type RoleStats,
} from '../../../main/engine/contract'

describe('the method registry', () => {
  it('has one entry per method, each with a params schema and, for a job, a known kind', () => {
    expect(METHOD_NAMES.length).toBeGreaterThan(30)
    expect(new Set(METHOD_NAMES).size).toBe(METHOD_NAMES.length)
    for (const name of METHOD_NAMES) {
      const spec = methods[name]
      expect(typeof spec.params.safeParse, name).toBe('function')
      if (spec.job !== null) expect(JOB_KINDS, name).toContain(spec.job)
    }
  })

  it('names the job of each method that starts one', () => {
    const starting = METHOD_NAMES.filter((m) => methods[m].job !== null).map((m) => [m, methods[m].job])
    expect(Object.fromEntries(starting)).toEqual({
      'system.benchmark': 'benchmark',
      'corpus.add': 'ingest',
      'corpus.addTemplate': 'ingest',
      'tokenizer.extend': 'tokenizer-extend',
      'tokenizer.sweep': 'tokenizer-sweep',
      'vocab.sweep': 'vocab-sweep',
      'vocab.extend': 'vocab-extend',
      'model.score': 'model-score',
      'model.resize': 'model-resize',
      'model.download': 'model-download',
      'model.sample': 'model-sample',
      'baseModel.resize': 'model-resize',
      'train.start': 'train',
      'eval.bpb': 'eval-bpb',
      'eval.mc': 'eval-mc',
      'eval.run': 'eval-run',
      'eval.compare': 'eval-compare',
      'export.checkpoint': 'export',
      'handoff.write': 'handoff',
      'runs.import': 'runs-import',
    })
    // Every kind is started by some method.
    expect(new Set(starting.map(([, k]) => k))).toEqual(new Set(JOB_KINDS))
  })

  it('types results by method, and job results by kind', () => {
    expectTypeOf<Result<'baseModel.resize'>['job']['result']>().toEqualTypeOf<ResizeSummary | null>()
    expectTypeOf<Result<'corpus.add'>['job']['labels']>().toEqualTypeOf<{ role: 'target' | 'english' }>()
    expectTypeOf<Result<'corpus.add'>['job']['result']>().toEqualTypeOf<RoleStats | null>()
    expectTypeOf<MethodName>().toExtend<string>()
    const job = { kind: MODEL_RESIZE_JOB, result: null } as unknown as JobSnapshot
    if (job.kind === 'model-resize') expectTypeOf(job.result).toEqualTypeOf<ResizeSummary | null>()
    if (isJobOf(job, 'ingest')) expectTypeOf(job.labels.role).toEqualTypeOf<'target' | 'english'>()
    expect(isJobOf(job, MODEL_RESIZE_JOB)).toBe(true)
    expect(isJobOf(job, 'ingest')).toBe(false)
    expect(isJobOf(null, 'ingest')).toBe(false)
  })

  it('defines each limit once, in the schemas that use it', () => {
    const count = methods['vocab.extend'].params.shape.count
    expect(count.safeParse(200_000).success).toBe(true)
    expect(count.safeParse(200_001).success).toBe(false)
    expect(methods['tokenizer.extend'].params.shape.count.safeParse(200_001).success).toBe(false)
    expect(methods['baseModel.resize'].params.shape.count.safeParse(200_001).success).toBe(false)
    expect(methods['vocab.sweep'].params.shape.counts.safeParse([200_001]).success).toBe(false)
    expect(methods['model.estimate'].params.shape.batch.safeParse(4097).success).toBe(false)
    expect(methods['model.estimate'].params.shape.seqLen.safeParse(131_073).success).toBe(false)
  })
})
