// Lint (`npm run lint`, also run by scripts/test): type-aware typescript-eslint on every .ts file the
// build compiles. Three rules are the point: no floating promises, no unused code, and imports of
// another folder only through that folder's index.ts (STYLE: a folder exports its API from its index).
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** A relative import that goes into another folder and names a file there other than its index.js. */
const INTO_FOLDER_NOT_INDEX = String.raw`^(?:\.\.?/)+(?:[^./][^/]*/)+(?!index\.js$)[^/]+$`;
const folderImports = (allow = []) => [
  'error',
  {
    patterns: [
      {
        regex: allow.length ? `(?!(?:${allow.join('|')})$)${INTO_FOLDER_NOT_INDEX}` : INTO_FOLDER_NOT_INDEX,
        message: "Import another folder through its index.ts ('<folder>/index.js'); a module it does not export is its own business.",
      },
    ],
  },
];

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', 'udp/native/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: { allowDefaultProject: ['vitest.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      'no-unused-private-class-members': 'error',
      'no-unreachable': 'error',
      'no-restricted-imports': folderImports(),
    },
  },
  {
    // A unit test tests one module, whether its folder exports it or not (flanneld/ is an entry point
    // with no index at all); test folders (harness, netns) are still imported through their index.
    files: ['test/*.test.ts'],
    rules: {
      'no-restricted-imports': folderImports([String.raw`\.\./[^/]+/[^/]+\.js`]),
    },
  },
  {
    // flanneld's launcher takes the compile cache from its own module: core/index.ts would load all of core first.
    files: ['flanneld/compile-cache.ts'],
    rules: {
      'no-restricted-imports': folderImports([String.raw`\.\./core/compile-cache\.js`]),
    },
  },
  {
    // The CNI plugins are processes started once per pod: ipam/index.ts and common/index.ts load etcd3
    // and pino, which a plugin must not pay for at every start, so cni/ takes core/ and ipam's leaf modules directly.
    files: ['cni/**/*.ts'],
    rules: {
      'no-restricted-imports': folderImports([String.raw`\.\./ipam/(?:config|subnet-env)\.js`]),
    },
  },
);
