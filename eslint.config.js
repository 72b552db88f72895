// Strict, type-checked lint for the hand-written TypeScript; the generated
// napi binding and build output are excluded.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'target/**', 'node_modules/**', 'native/node/binding.*', 'bench/.wasm/**', '.tools/**', 'npm/**', '**/.venv/**'],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', performance: 'readonly', setImmediate: 'readonly',
        structuredClone: 'readonly', AbortController: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', fetch: 'readonly',
        SharedArrayBuffer: 'readonly', Atomics: 'readonly', queueMicrotask: 'readonly', WebAssembly: 'readonly',
      },
    },
  },
);
