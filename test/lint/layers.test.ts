import { resolve } from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

/**
 * The engine's layers have a direction (docs/architecture.md), and lint enforces it: these lint
 * imports in files placed in each layer, without writing them.
 */
const ROOT = resolve(__dirname, '../..')
const eslint = new ESLint({ cwd: ROOT })

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(ROOT, file) })
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('engine layers', () => {
  it('refuses an import of a later stage or layer', async () => {
    expect(await restricted('main/engine/corpus/x.ts', "import { parseModelConfig } from '../model/config'\nexport const a = parseModelConfig\n")).toEqual([
      expect.stringContaining('corpus may not import a later layer'),
    ])
    expect(await restricted('main/engine/tokenizer/x.ts', "export { train } from '../training/train'\n")).toHaveLength(1)
    expect(await restricted('main/engine/model/x.ts', "import '../templates/demo'\n")).toHaveLength(1)
    expect(await restricted('main/engine/common/x.ts', "import '../project/manifest'\n")).toHaveLength(1)
    expect(await restricted('main/engine/project/x.ts', "import '../corpus/store'\n")).toHaveLength(1)
    expect(await restricted('main/engine/training/x.ts', "import '../evaluation/heldout'\n")).toHaveLength(1)
    expect(await restricted('main/engine/evaluation/x.ts', "import '../export/export'\n")).toHaveLength(1)
    expect(await restricted('main/engine/export/x.ts', "import '../hub/client'\n")).toEqual([expect.stringContaining('export may not import a later layer')])
    expect(await restricted('main/engine/hub/x.ts', "import '../api/engine'\n")).toHaveLength(1)
    expect(await restricted('main/engine/export/x.ts', "import '../handoff/bundle'\n")).toHaveLength(1)
    expect(await restricted('main/engine/handoff/x.ts', "import '../api/engine'\n")).toEqual([expect.stringContaining('handoff may not import a later layer')])
  })

  it('allows imports of the common base, earlier stages and the contract', async () => {
    expect(await restricted('main/engine/model/x.ts', "import '../tokenizer/tokenizer'\nimport '../corpus/text'\nimport '../common/rng'\nimport '../contract'\nimport './config'\n")).toEqual([])
    expect(await restricted('main/engine/api/x.ts', "import '../templates/demo'\nimport '../model/project'\n")).toEqual([])
    expect(await restricted('main/engine/evaluation/x.ts', "import '../training/runs'\nimport '../model/operations'\nimport '../corpus/words'\n")).toEqual([])
    expect(await restricted('main/engine/hub/x.ts', "import '../model/memory'\nimport '../project/manifest'\nimport '../jobs/manager'\n")).toEqual([])
    expect(await restricted('main/engine/handoff/x.ts', "import '../export/hffiles'\nimport '../training/launch'\nimport '../hub/cache'\n")).toEqual([])
  })

  it('keeps Electron out of the engine and the contract free of everything but zod', async () => {
    expect(await restricted('main/engine/model/x.ts', "import 'electron'\n")).toHaveLength(1)
    expect(await restricted('main/engine/contract/x.ts', "import { z } from 'zod'\nimport './values'\nexport const s = z.string()\n")).toEqual([])
    expect(await restricted('main/engine/contract/x.ts', "import '../common/errors'\n")).toHaveLength(1)
    expect(await restricted('main/engine/contract/x.ts', "import 'node:fs'\n")).toHaveLength(1)
  })
})
