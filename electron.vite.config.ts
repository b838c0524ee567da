import { chmodSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import type { Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

// The headless entry points, by output file name (whatever source they are built from). The
// banner below gives them the node shebang; this plugin gives them the executable bit after every
// write. package.json's `bin` points at out/main/cli.js: a rebuild rewrites it without that bit,
// and `npx vernacular` (whose link npm made, and chmodded, once) then fails "Permission denied".
const EXECUTABLES = new Set(['cli.js', 'serve.js'])

function executableEntries(): Plugin {
  return {
    name: 'vernacular:executable-entries',
    apply: 'build',
    writeBundle(options, bundle) {
      const dir = options.dir ?? resolve(__dirname, 'out/main')
      for (const fileName of Object.keys(bundle)) if (EXECUTABLES.has(fileName)) chmodSync(join(dir, fileName), 0o755)
    },
  }
}

// One build for the three processes. The main build also emits the headless entry points
// (the `vernacular` CLI and the loopback web server), which share every engine module with
// the desktop shell.
export default defineConfig({
  main: {
    plugins: [executableEntries()],
    build: {
      outDir: 'out/main',
      rolldownOptions: {
        input: {
          index: resolve(__dirname, 'main/index.ts'),
          cli: resolve(__dirname, 'main/cli/index.ts'),
          serve: resolve(__dirname, 'main/serve.ts'),
          worker: resolve(__dirname, 'main/worker.ts'),
          threads: resolve(__dirname, 'main/threads.ts'),
        },
        output: {
          banner: (chunk) => (chunk.name === 'cli' || chunk.name === 'serve' ? '#!/usr/bin/env node' : ''),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rolldownOptions: {
        input: { index: resolve(__dirname, 'preload/index.ts') },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'renderer'),
    plugins: [vue()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      rolldownOptions: {
        input: { index: resolve(__dirname, 'renderer/index.html') },
      },
    },
  },
})
