import { describe, expect, it } from 'vitest'
import { parseNvidiaSmi } from '../../../main/engine/system/gpus'

describe('parseNvidiaSmi', () => {
  it('reads name, memory and driver of each GPU', () => {
    const csv = 'NVIDIA H100 80GB HBM3, 81559, 550.54.15\nNVIDIA GeForce RTX 4090, 24564, 550.54.15\n'
    expect(parseNvidiaSmi(csv)).toEqual([
      { name: 'NVIDIA H100 80GB HBM3', memoryBytes: 81559 * 1024 * 1024, driver: '550.54.15', source: 'nvidia-smi' },
      { name: 'NVIDIA GeForce RTX 4090', memoryBytes: 24564 * 1024 * 1024, driver: '550.54.15', source: 'nvidia-smi' },
    ])
  })

  it('copes with missing fields', () => {
    expect(parseNvidiaSmi('Tesla T4, [N/A]\n\n')).toEqual([{ name: 'Tesla T4', memoryBytes: null, driver: null, source: 'nvidia-smi' }])
  })
})
