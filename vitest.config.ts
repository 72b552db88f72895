import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['__test__/**/*.test.ts'],
    // The soak runs on its own (npm test's "soak" step, npm run soak): its load would slow the others.
    exclude: process.env.CORESDK_SOAK === '1' ? configDefaults.exclude : [...configDefaults.exclude, '__test__/soak.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
