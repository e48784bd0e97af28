import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/ (see docs/architecture.md): each folder may import only from the folders
 * listed for it (and from itself). Dependencies flow one way: cli -> node -> (inputs, methods) ->
 * (store, transport, trust, spawn) -> message, with config, metrics and lib as leaves.
 */
const LAYERS = {
  lib: [],
  message: ['lib'],
  config: ['lib', 'message'],
  metrics: ['lib', 'config'],
  spawn: ['lib', 'config'],
  store: ['lib', 'message', 'config'],
  transport: ['lib', 'message', 'config'],
  trust: ['lib', 'message', 'config', 'store'],
  methods: ['lib', 'message', 'config', 'store', 'spawn', 'metrics'],
  inputs: ['lib', 'message', 'config'],
  fleet: ['lib', 'message', 'config', 'store', 'trust'],
  node: ['lib', 'message', 'config', 'metrics', 'spawn', 'store', 'transport', 'trust', 'methods', 'inputs', 'fleet'],
  web: ['lib', 'message', 'config', 'metrics', 'store', 'trust', 'inputs', 'fleet', 'node'],
  cli: ['lib', 'message', 'config', 'metrics', 'spawn', 'store', 'transport', 'trust', 'methods', 'inputs', 'fleet', 'node', 'web'],
};
const zones = Object.entries(LAYERS).map(([layer, allowed]) => ({
  target: `./src/${layer}`,
  from: './src',
  except: [`./${layer}`, ...allowed.map((a) => `./${a}`)],
  message: `src/${layer} may import only from ${[layer, ...allowed].join(', ')} (see docs/architecture.md)`,
}));

/** Who may talk to NATS and to SQLite. */
const NATS = { group: ['@nats-io/*'], message: 'only src/transport/ talks to NATS: use the Transport interface' };
const SQLITE = { group: ['better-sqlite3', 'node:sqlite'], message: 'only src/store/ talks to SQLite' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'demo/**', 'bench/results/**', '.scratch-tmp/**', '.runtime/**', 'src/web/assets/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver()],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones }],
      'no-restricted-imports': ['error', { patterns: [NATS, SQLITE] }],
      'max-lines': ['error', { max: 350 }],
    },
  },
  { files: ['src/transport/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [SQLITE] }] } },
  { files: ['src/store/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [NATS] }] } },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after'] }] },
      ],
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
