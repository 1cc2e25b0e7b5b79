import { defineConfig } from 'vitest/config';

// Unit tests are pure and fast. Integration tests start real etcd, namespaces and daemons: each file
// runs in its own fork, and since they mostly wait on processes and the kernel, a few run at once
// even on two cores.
export default defineConfig({
  test: {
    maxWorkers: 3,
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
