// npm run lint: typescript-eslint's type-checked rules on src/, test/ and bench/ (they see the
// types, so they catch what a syntax-only linter cannot: promises nobody awaits or handles,
// any leaking out of JSON and catch clauses, awaiting what is not a promise).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'src/graphql/generated/', 'node_modules/', 'coverage/', 'test-artifacts/', '.data/', 'web/', 'trainer/', 'models/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Async functions that implement a promise-returning interface (Apollo's plugin hooks, the
      // Scorer, the event bus) stay async even without an await: a throw becomes a rejection,
      // which is what their callers handle.
      '@typescript-eslint/require-await': 'off',
      // Services, repositories and indexes are objects of closures made by createX() functions,
      // never classes that use `this`: passing their methods around is safe by construction.
      '@typescript-eslint/unbound-method': 'off',
      // `_name` marks a parameter or element that is deliberately unused.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Tests and benchmarks read GraphQL and HTTP answers as JSON and check their shape with
    // expect(): the any of response.json() is how they are meant to be read there. src/ keeps
    // every no-unsafe-* rule: there JSON is parsed into declared types.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.{js,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
