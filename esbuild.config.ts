/**
 * Builds the artefacts (DESIGN §1–§2):
 * - dist/kms.mjs: the ONE file that Node runs in the enclave and Miniflare loads in tests;
 * - dist/kms-test.mjs: that file with the test build's dev-root trust in enclave mode, for the
 *   enclave-mode tests only (PROTOCOL §4.5); never in the image;
 * - dist/verifier.js: the attestation verifier and client helpers for browsers;
 * - dist/cli.mjs: the operator CLI (`npx nova-kms …`);
 * - dist/verify/: the browser page that verifies a KMS node (index.html and verify.js).
 *
 * `tsx esbuild.config.ts --only kms` builds dist/kms.mjs alone (the Dockerfile's build stage).
 * Imported as a module it builds nothing: test/deploy/reproducible.test.ts takes
 * {@link kmsBundleOptions} from here and builds the bundle twice with exactly these options.
 */
import { build, type BuildOptions } from 'esbuild'
import { readFileSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string }

const shared: BuildOptions = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  legalComments: 'none',
  logLevel: 'warning',
  define: { __NOVA_KMS_VERSION__: JSON.stringify(version) },
}

/** dist/kms.mjs: the options of the one file that the enclave runs (paths relative to this folder). */
export const kmsBundleOptions: BuildOptions = {
  ...shared,
  entryPoints: ['bundle/worker.ts'],
  outfile: 'dist/kms.mjs',
  platform: 'node',
  // viem and noble resolve to their runtime-neutral builds, so the core has no Node built-ins.
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['module', 'main'],
  minifySyntax: true,
  define: { ...shared.define, __NOVA_KMS_TEST_BUILD__: 'false' },
}

/**
 * dist/kms-test.mjs: the same node, built with `__NOVA_KMS_TEST_BUILD__` true (functions/_runtime.ts),
 * so that enclave mode trusts the dev attestation root (PROTOCOL §4.5). The switch exists only
 * at compile time; the Dockerfile builds `--only kms` and copies dist/kms.mjs alone.
 */
export const kmsTestBundleOptions: BuildOptions = {
  ...kmsBundleOptions,
  outfile: 'dist/kms-test.mjs',
  define: { ...shared.define, __NOVA_KMS_TEST_BUILD__: 'true' },
}

const artefacts: { name: string; options: BuildOptions }[] = [
  { name: 'dist/kms.mjs', options: kmsBundleOptions },
  { name: 'dist/kms-test.mjs', options: kmsTestBundleOptions },
  {
    name: 'dist/verifier.js',
    options: {
      ...shared,
      entryPoints: ['core/attestation/index.ts'],
      outfile: 'dist/verifier.js',
      platform: 'browser',
      minify: true,
    },
  },
  {
    name: 'dist/cli.mjs',
    options: {
      ...shared,
      entryPoints: ['bundle/cli.ts'],
      outfile: 'dist/cli.mjs',
      platform: 'node',
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    },
  },
  {
    // The local Nova runtime (/v1/* for one app instance); never part of dist/kms.mjs.
    name: 'dist/nova-runtime.mjs',
    options: {
      ...shared,
      entryPoints: ['platform/main.ts'],
      outfile: 'dist/nova-runtime.mjs',
      platform: 'node',
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    },
  },
  {
    // The "verify a KMS node" page (issue 17): index.html copied as is, the script minified;
    // the devnet serves both (bundle/verifyPage.ts). Never part of dist/kms.mjs.
    name: 'dist/verify/verify.js',
    options: {
      ...shared,
      entryPoints: [
        { in: 'web/verify/main.ts', out: 'verify' },
        { in: 'web/verify/index.html', out: 'index' },
      ],
      outdir: 'dist/verify',
      loader: { '.html': 'copy' },
      platform: 'browser',
      minify: true,
    },
  },
]

const runAsScript = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
const onlyFlag = process.argv.indexOf('--only')
const only = onlyFlag === -1 ? undefined : process.argv[onlyFlag + 1]
// `--only kms` selects dist/kms.mjs by its file name without extensions.
const selected = only === undefined ? artefacts : artefacts.filter(({ name }) => basename(name).split('.')[0] === only)
if (runAsScript && selected.length === 0) {
  throw new Error(`--only ${only ?? ''}: no such artefact; one of ${artefacts.map(({ name }) => basename(name).split('.')[0]).join(', ')}`)
}

for (const { name, options } of runAsScript ? selected : []) {
  await build(options)
  const bytes = readFileSync(name)
  // stderr, so that `npm run --silent bench` prints only its JSON on stdout.
  console.error(`${name}: ${bytes.length} bytes (${gzipSync(bytes).length} gzipped)`)
}
