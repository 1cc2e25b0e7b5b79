import { defineConfig } from 'vitest/config';

// Unit tests are pure and fast; integration tests start real etcd, namespaces and daemons,
// so each file gets its own fork and files run in parallel up to the core count.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/*.test.ts'], testTimeout: 10_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/*.test.ts', 'test/netns/*.test.ts'],
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
