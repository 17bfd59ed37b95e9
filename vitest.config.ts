import { defineConfig } from 'vitest/config'

/**
 * One vitest project per kind of suite (STYLE.md "Tests"). Integration suites start real
 * processes (anvil, nodes, chromium) and get longer timeouts; they run one file at a time so
 * that two cores are not oversubscribed.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/vectors/**/*.test.ts', 'test/cluster-sim/**/*.test.ts'],
          // The cluster simulation runs thousands of schedules; a loaded 2-core machine needs room.
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'chain',
          include: ['test/chain/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts', 'test/node/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'cluster',
          // test/recovery: issue 15's disaster (real nodes on anvil, the custodian CLI).
          include: ['test/cluster/**/*.test.ts', 'test/recovery/**/*.test.ts', 'test/rotation/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // Fault suites (issue 14): real node processes on anvil, with the RPC cut, peers that
          // hang, a node killed mid-snapshot and skewed clocks. About 3-4 minutes in all.
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'platform',
          include: ['test/platform/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'deploy',
          include: ['test/deploy/**/*.test.ts', 'test/prometheus/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'clone',
          include: ['test/clone/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // The production image built with buildah and run (npm run test:image): about 3 minutes.
          name: 'image',
          include: ['test/image/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // @nova-kms/client (issue 17): builds and packs it, installs the tarball offline in an
          // empty project and runs its quickstart against anvil and a KMS node. About a minute.
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'enclave',
          include: ['test/enclave/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
