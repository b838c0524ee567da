import { availableParallelism } from 'node:os'
import { configDefaults, defineConfig } from 'vitest/config'

// The webgpu project runs tfjs's WebGPU backend through Dawn on SwiftShader's Vulkan driver, which
// Debian's chromium ships with a libvulkan.so.1 in its own folder. The dynamic loader reads
// LD_LIBRARY_PATH when a process starts, so it is given to the project's workers (forked with
// this env) rather than set inside them. See docs/performance.md, "WebGPU through Dawn".
const SWIFTSHADER_DIR = process.env.VERNACULAR_SWIFTSHADER_DIR ?? '/usr/lib/chromium'
const WEBGPU_ENV = {
  LD_LIBRARY_PATH: [SWIFTSHADER_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  VK_ICD_FILENAMES: `${SWIFTSHADER_DIR}/vk_swiftshader_icd.json`,
}
const WEBGPU_TESTS = 'test/**/*.webgpu.test.ts'

// Three projects: fast unit tests of the engine, shell and renderer logic; end-to-end tests
// that drive Debian's Chromium against the built web mode (they need `npm run build` first); and
// the WebGPU backend's tests (`*.webgpu.test.ts`, some of them end-to-end) on SwiftShader.
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/engine/**/*.test.ts', 'test/main/**/*.test.ts', 'test/renderer/**/*.test.ts', 'test/lint/**/*.test.ts'],
          exclude: [...configDefaults.exclude, WEBGPU_TESTS],
          environment: 'node',
          testTimeout: 30_000,
          // Vitest's default is one fewer than the cores: a single worker on a 2-core machine
          // (CI's), where two unit files at a time finish sooner (many wait on child processes).
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: [...configDefaults.exclude, WEBGPU_TESTS],
          environment: 'node',
          testTimeout: 90_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'webgpu',
          include: [WEBGPU_TESTS],
          environment: 'node',
          env: WEBGPU_ENV,
          // SwiftShader compiles each kernel's shader on first use, then runs it on the CPU.
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
