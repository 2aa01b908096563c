import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start brokers and child processes; give them room but never hang CI.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: integration suites each run brokers and a daemon, so do not oversubscribe.
    maxWorkers: 2,
  },
});
