import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // one DynamoDB Local for the whole run; each test file gets its own tables
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    // expect.poll waits on pushes through the whole local stack (write → stream → fan-out), in parallel forks
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 120_000,
    reporters: ['default'],
    // the CDK assembly's bundles (local/assembly.ts copies them to presence-lambda-*) load with Node's own
    // import, as on Lambda: never through the test runner's module transform and its resolution from this repository
    server: { deps: { external: [/presence-lambda-/] } },
  },
});
