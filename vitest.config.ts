import { defineConfig } from 'vitest/config';

// Two projects: unit tests beside the code run in parallel; cross-component
// tests in test/ start brokers, ptys and child processes, so on a 2-core
// machine they run one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['agent/**/*.test.ts', 'protocol/**/*.test.ts', 'lib/**/*.test.ts', 'platform/**/*.test.ts', 'simulator/**/*.test.ts', 'bench/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
