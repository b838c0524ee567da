import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { useTmp } from '../../helpers/tmp'

// The disk fills up just as the manifest is written.
vi.mock('../../../main/engine/common/fsutil', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../main/engine/common/fsutil')>()
  const { fsError } = await import('../../../main/engine/common/errors')
  return {
    ...real,
    writeJsonAtomic: vi.fn(async (file: string) => {
      throw fsError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), file, 'write')
    }),
  }
})

const tmp = useTmp()

describe('createProject when the write fails', () => {
  it('reports the disk as full and removes the folders it made', async () => {
    const { createProject } = await import('../../../main/engine/project/projects')
    const root = tmp()
    const e = await createProject({ dir: join(root, 'new', 'proj'), name: 'X', language: 'hu' }).catch((err: unknown) => err)
    expect(e).toMatchObject({ code: 'io', message: expect.stringContaining('disk is full') })
    expect(await fs.readdir(root)).toEqual([])
  })

  it('leaves a folder that existed before in place, without a lock file', async () => {
    const { createProject } = await import('../../../main/engine/project/projects')
    const root = tmp()
    await fs.writeFile(join(root, 'notes.txt'), 'mine')
    await expect(createProject({ dir: root, name: 'X', language: 'hu' })).rejects.toMatchObject({ code: 'io' })
    expect(await fs.readdir(root)).toEqual(['notes.txt'])
  })
})
