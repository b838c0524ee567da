// @ts-check
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'
import vue from 'eslint-plugin-vue'

/** The engine's layers from the ground up; each may import the ones before it (and its own). */
const ENGINE_LAYERS = [
  ['common'],
  ['backend', 'project', 'jobs', 'system'],
  ['corpus'],
  ['tokenizer'],
  ['model'],
  ['training'],
  ['evaluation'],
  ['export'],
  ['hub'],
  ['handoff'],
  ['api', 'templates'],
]

function engineLayers() {
  const electron = { name: 'electron', message: 'The engine must not import electron; put shell code in main/.' }
  return ENGINE_LAYERS.map((layer, i) => {
    const above = ENGINE_LAYERS.slice(i + 1).flat()
    return {
      files: layer.map((folder) => `main/engine/${folder}/**/*.ts`),
      rules: {
        'no-restricted-imports': [
          'error',
          {
            paths: [electron],
            patterns: above.length
              ? [{ regex: `(^|/)\\.\\./(${above.join('|')})(/|$)`, message: `${layer.join(', ')} may not import a later layer (${above.join(', ')}): see docs/architecture.md. Move what both need down a layer.` }]
              : [],
          },
        ],
      },
    }
  })
}

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'resources/**', '.gl/**', '.whl/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
  },
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
    },
  },
  // The engine knows nothing of Electron, and its layers have a direction (docs/architecture.md):
  // a common base, then backend / project / jobs / system, then the stages in the order the data
  // flows, then the API and the demo templates on top. A layer never imports one above it.
  ...engineLayers(),
  {
    // The contract is bundled by the renderer: zod and its own files only.
    files: ['main/engine/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!zod$|\\./)', message: 'The API contract may import only zod and its own files: the renderer bundles it.' }] }],
    },
  },
  {
    // The renderer sees only the API contract: never Node, Electron or other engine modules.
    files: ['renderer/**/*.{ts,vue}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer talks to the engine through the API contract only.' }],
          patterns: [
            { regex: '^node:', message: 'No Node modules in the renderer.' },
            { regex: 'main/(?!engine/contract$)', message: 'The renderer may import only main/engine/contract (its index).' },
          ],
        },
      ],
    },
  },
)
