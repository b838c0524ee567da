import { promises as fs } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { hubCacheDir, hubEndpoint, hubToken, linkSnapshotFile, repoCache, writeRef } from '../../../main/engine/hub/cache'
import { SpeedMeter, formatBytes } from '../../../main/engine/hub/job'
import { useTmp } from '../../helpers/tmp'

const tmp = useTmp()

describe('the Hugging Face cache and environment', () => {
  it('finds the cache, the endpoint and the token as huggingface_hub does', async () => {
    expect(hubCacheDir({})).toBe(join(homedir(), '.cache', 'huggingface', 'hub'))
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'huggingface', 'hub'))
    expect(hubCacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe(join('/h', 'hub'))
    expect(hubCacheDir({ HF_HOME: '/h', HF_HUB_CACHE: '/c' })).toBe('/c')
    expect(hubEndpoint({})).toBe('https://huggingface.co')
    expect(hubEndpoint({ HF_ENDPOINT: 'http://127.0.0.1:9/' })).toBe('http://127.0.0.1:9')
    const home = tmp()
    expect(await hubToken({ HF_HOME: home })).toBeUndefined()
    await fs.writeFile(join(home, 'token'), 'hf_saved\n')
    expect(await hubToken({ HF_HOME: home })).toBe('hf_saved')
    expect(await hubToken({ HF_HOME: home, HF_TOKEN: 'hf_env' })).toBe('hf_env')
  })

  it('links snapshot files to blobs relatively, nested paths included, and writes refs only for names', async () => {
    const cache = repoCache(tmp(), 'org/name')
    expect(cache.root.endsWith('models--org--name')).toBe(true)
    await fs.mkdir(join(cache.root, 'blobs'), { recursive: true })
    await fs.writeFile(cache.blob('abc'), 'x')
    const link = await linkSnapshotFile(cache, 'c0ffee', 'sub/dir/file.json', 'abc')
    expect(await fs.readlink(link)).toBe(join('..', '..', '..', '..', 'blobs', 'abc'))
    expect(await fs.readFile(link, 'utf8')).toBe('x')
    await writeRef(cache, 'refs/pr/1', 'c0ffee')
    await writeRef(cache, 'c0ffee', 'c0ffee')
    expect(await fs.readFile(join(cache.root, 'refs', 'refs', 'pr', '1'), 'utf8')).toBe('c0ffee')
    expect(await fs.readdir(join(cache.root, 'refs'))).toEqual(['refs'])
  })

  it('measures speed over a window and writes sizes in binary units', () => {
    const m = new SpeedMeter(5000)
    expect(m.update(0, 0)).toBeNull()
    expect(m.update(1024 * 1024, 1000)).toBe(1024 * 1024)
    expect(m.update(2 * 1024 * 1024, 2000)).toBe(1024 * 1024)
    expect(formatBytes(812)).toBe('812 B')
    expect(formatBytes(3.4 * 1024)).toBe('3.4 KiB')
    expect(formatBytes(126 * 1024 * 1024)).toBe('126 MiB')
  })
})
