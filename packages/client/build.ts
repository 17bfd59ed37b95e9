/**
 * Builds `@nova-kms/client` into `packages/client/dist/` (run with `npx tsx packages/client/build.ts`):
 * - `dist/index.js` (the SDK) and `dist/verifier.js` (the attestation verifier alone, the
 *   `@nova-kms/client/verifier` subpath), ESM, platform neutral, es2022, minified and
 *   tree-shaken, with viem and noble bundled in (the package has no dependencies, so it
 *   installs offline); the code both share is in `dist/chunks/`. A separate entry, because a
 *   consumer's bundler cannot tree-shake a flattened bundle well: noble's curves are built by
 *   top-level calls it must keep once the packages' `sideEffects: false` is gone;
 * - `dist/index.d.ts`, `dist/verifier.d.ts` and `dist/types/**`: the declarations tsc emits, limited to
 *   the files the entry reaches, every relative specifier rewritten to an explicit `.js` path
 *   (so `moduleResolution` `bundler`, `node16` and `nodenext` all resolve them), and the few
 *   viem types that internal declarations name replaced by local ones (`_external/viem.d.ts`);
 * - `dist/THIRD_PARTY_LICENSES.md`: the licenses of the bundled packages.
 *
 * It fails when the bundle imports anything (a Node built-in above all) or when a declaration
 * still names an outside package. It prints the sizes to stderr and, as one JSON line, to
 * stdout: the whole SDK (every shipped `.js` file) and the attestation verifier alone
 * (`src/verifier.ts` bundled by itself, as an app that imports only the subpath gets it),
 * minified and gzipped, against the goals of issue 17.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type BuildOptions, type Metafile } from 'esbuild'

const PACKAGE_DIR = dirname(fileURLToPath(import.meta.url))
const ROOT = resolve(PACKAGE_DIR, '../..')
const DIST = join(PACKAGE_DIR, 'dist')
/** Where tsc writes before the declarations are pruned and rewritten (removed at the end). */
const EMIT = join(DIST, '.emit')
/** The emitted declarations of the entries, and where each goes. */
const ENTRY_DECLARATIONS = new Map([
  [join(EMIT, 'packages/client/src/index.d.ts'), join(DIST, 'index.d.ts')],
  [join(EMIT, 'packages/client/src/verifier.d.ts'), join(DIST, 'verifier.d.ts')],
])

/** Issue 17's goals. */
export const SDK_MINIFIED_GOAL_BYTES = 150 * 1024
export const VERIFIER_GZIPPED_GOAL_BYTES = 60 * 1024

export interface BundleSize {
  minifiedBytes: number
  gzippedBytes: number
}

export interface BuildReport {
  /** `dist/index.js` and the chunks it imports statically: what loads with the SDK. */
  sdk: BundleSize & { goalMinifiedBytes: number; met: boolean }
  /** Every shipped `.js` file, viem's lazily imported chunks (CCIP, its own secp256k1) included. */
  shipped: BundleSize & { files: number }
  verifier: BundleSize & { goalGzippedBytes: number; met: boolean }
  /** `dist/verifier.js` and its static chunks as shipped (shared chunks hold a little more). */
  verifierSubpath: BundleSize
  /** Minified bytes of dist/ per source: each bundled package, and `core/<folder>`. */
  contributions: Record<string, number>
}

const bundleOptions: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  // viem, isows and noble resolve to their runtime-neutral builds (as for dist/kms.mjs).
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['module', 'main'],
  minify: true,
  treeShaking: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  absWorkingDir: ROOT,
}

/** Bytes, and gzipped bytes file by file (as they are served), of one or more files. */
function sizeOf(...files: Uint8Array[]): BundleSize {
  return {
    minifiedBytes: files.reduce((total, bytes) => total + bytes.length, 0),
    gzippedBytes: files.reduce((total, bytes) => total + gzipSync(bytes, { level: 9 }).length, 0),
  }
}

/**
 * The bundle must import nothing: no `node:*`, no bare built-in (`fs`, `crypto`, …), no
 * dependency left external. The metafile says what esbuild kept as an import; the text check
 * catches a `require(` or `import(` of a literal that esbuild could have passed through.
 */
function assertSelfContained(name: string, metafile: Metafile, code: string): void {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    // Only the bundle's own chunks may be imported (code splitting).
    const outside = output.imports.filter((entry) => entry.external === true || !(entry.path in metafile.outputs))
    if (outside.length > 0) throw new Error(`${name}: ${file} imports ${outside.map((entry) => entry.path).join(', ')}`)
  }
  const builtinInput = Object.keys(metafile.inputs).find((input) => input.startsWith('node:') || !input.includes('/'))
  if (builtinInput !== undefined) throw new Error(`${name}: bundles the built-in ${builtinInput}`)
  const stray = /\b(?:require\s*\(|import\s*\(\s*["'`](?!\.\.?\/))|from\s*["'`](?!\.\.?\/)|["'`]node:[a-z_/]+["'`]/.exec(code)
  if (stray !== null) throw new Error(`${name}: bundle text has "${stray[0]}"`)
}

/** `entry` and the outputs it imports statically, transitively (dynamic imports load later, if ever). */
function staticClosure(metafile: Metafile, entry: string): string[] {
  const reached = new Set<string>()
  const pending = [entry]
  while (pending.length > 0) {
    const file = pending.pop()!
    if (reached.has(file)) continue
    reached.add(file)
    for (const imported of metafile.outputs[file]?.imports ?? []) if (imported.kind === 'import-statement') pending.push(imported.path)
  }
  return [...reached]
}

function contributions(metafile: Metafile): Record<string, number> {
  const totals: Record<string, number> = {}
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input)
      const key = packageMatch !== null ? packageMatch[1]! : /^core\/[^/]+\//.test(input) ? input.split('/').slice(0, 2).join('/') : input
      totals[key] = (totals[key] ?? 0) + bytesInOutput
    }
  }
  return Object.fromEntries(Object.entries(totals).filter(([, bytes]) => bytes > 0).sort(([, left], [, right]) => right - left))
}

/** The bundled packages' license texts, from the folders the metafile names. */
function thirdPartyLicenses(metafile: Metafile): string {
  const folders = new Set<string>()
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
      if (match !== null && bytesInOutput > 0) folders.add(match[1]!)
    }
  }
  const sections = [...folders].sort().map((folder) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, folder, 'package.json'), 'utf8')) as { name: string; version: string; license?: string }
    const licenseFile = readdirSync(join(ROOT, folder)).find((file) => /^(license|licence|copying)(\.|$)/i.test(file))
    const text = licenseFile === undefined ? `(no license file; package.json says ${manifest.license ?? 'nothing'})` : readFileSync(join(ROOT, folder, licenseFile), 'utf8').trim()
    return `## ${manifest.name}@${manifest.version} (${manifest.license ?? 'unknown'})\n\n${text}\n`
  })
  return `# Third-party licenses\n\n\`dist/index.js\` bundles these packages.\n\n${sections.join('\n')}`
}

/** viem types that internal declarations of `core/chain` name; none is part of the package API. */
const VIEM_STAND_IN = `/**
 * Stand-ins for the viem types that some internal declarations of core/chain name. viem is
 * bundled into dist/index.js; its own declarations are not shipped. None of these types is
 * part of the @nova-kms/client API.
 */
export type Hex = \`0x\${string}\`
export type Address = \`0x\${string}\`
/** A viem client, opaque here: the package takes RPC URLs, never a client. */
export interface Client {
  readonly transport: unknown
}
/** The decoded return value of a contract read (internal to core/chain). */
export type ContractFunctionReturnType<_Abi = unknown, _Mutability = unknown, _FunctionName = unknown> = Record<string, never>
`

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g

/** Where an emitted declaration goes: an entry's to `dist/`, the rest under `dist/types/`. */
function destinationOf(emitted: string): string {
  return ENTRY_DECLARATIONS.get(emitted) ?? join(DIST, 'types', relative(EMIT, emitted))
}

/** The declaration file a relative specifier of `importer` names (`x` → `x.d.ts` or `x/index.d.ts`). */
function resolveDeclaration(importer: string, specifier: string): string {
  const base = resolve(dirname(importer), specifier.replace(/\.js$/, ''))
  for (const candidate of [`${base}.d.ts`, join(base, 'index.d.ts')]) if (existsSync(candidate)) return candidate
  throw new Error(`${relative(EMIT, importer)}: cannot resolve the declaration of ${specifier}`)
}

function relativeSpecifier(from: string, to: string): string {
  const path = relative(dirname(from), to).replace(/\.d\.ts$/, '.js')
  return path.startsWith('.') ? path : `./${path}`
}

/**
 * Emits the declarations with tsc, keeps the files the entry reaches, and rewrites their
 * specifiers. Returns how many files it wrote.
 */
function emitDeclarations(): number {
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(PACKAGE_DIR, 'tsconfig.json'), '--outDir', EMIT], { stdio: 'inherit' })
  const viemStandIn = join(EMIT, '_external/viem.d.ts')
  mkdirSync(dirname(viemStandIn), { recursive: true })
  writeFileSync(viemStandIn, VIEM_STAND_IN)
  const reached = new Set<string>()
  const pending = [...ENTRY_DECLARATIONS.keys()]
  while (pending.length > 0) {
    const file = pending.pop()!
    if (reached.has(file)) continue
    reached.add(file)
    const text = readFileSync(file, 'utf8')
    const rewritten = text.replace(SPECIFIER, (whole: string, keyword: string, quote: string, specifier: string) => {
      let target: string
      if (specifier === 'viem') target = viemStandIn
      else if (specifier.startsWith('.')) target = resolveDeclaration(file, specifier)
      else throw new Error(`${relative(EMIT, file)}: a declaration names the outside package ${specifier}`)
      pending.push(target)
      return `${keyword}${quote}${relativeSpecifier(destinationOf(file), destinationOf(target))}${quote}`
    })
    if (/\/\/\/\s*<reference\s+(types|path)=/.test(rewritten)) throw new Error(`${relative(EMIT, file)}: has a triple-slash reference`)
    const destination = destinationOf(file)
    mkdirSync(dirname(destination), { recursive: true })
    writeFileSync(destination, rewritten)
  }
  rmSync(EMIT, { recursive: true, force: true })
  return reached.size
}

export async function buildClientPackage(): Promise<BuildReport> {
  rmSync(DIST, { recursive: true, force: true })
  mkdirSync(DIST, { recursive: true })

  const sdk = await build({
    ...bundleOptions,
    entryPoints: { index: join(PACKAGE_DIR, 'src/index.ts'), verifier: join(PACKAGE_DIR, 'src/verifier.ts') },
    outdir: DIST,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
  })
  const shipped = Object.keys(sdk.metafile!.outputs).map((file) => join(ROOT, file))
  const shippedFiles = shipped.map((file) => new Uint8Array(readFileSync(file)))
  const sdkFiles = staticClosure(sdk.metafile!, relative(ROOT, join(DIST, 'index.js'))).map((file) => new Uint8Array(readFileSync(join(ROOT, file))))
  assertSelfContained('dist/', sdk.metafile!, shipped.map((file) => readFileSync(file, 'utf8')).join('\n'))
  writeFileSync(join(DIST, 'THIRD_PARTY_LICENSES.md'), thirdPartyLicenses(sdk.metafile!))

  // The verifier alone, in one file: what an app that imports only the subpath loads.
  const verifier = await build({ ...bundleOptions, entryPoints: [join(PACKAGE_DIR, 'src/verifier.ts')], outfile: join(DIST, 'verifier.js'), write: false })
  const verifierCode = verifier.outputFiles![0]!.contents
  assertSelfContained('verifier', verifier.metafile!, new TextDecoder().decode(verifierCode))

  const declarations = emitDeclarations()
  const sdkSize = sizeOf(...sdkFiles)
  const verifierSize = sizeOf(verifierCode)
  const report: BuildReport = {
    sdk: { ...sdkSize, goalMinifiedBytes: SDK_MINIFIED_GOAL_BYTES, met: sdkSize.minifiedBytes <= SDK_MINIFIED_GOAL_BYTES },
    shipped: { ...sizeOf(...shippedFiles), files: shippedFiles.length },
    verifier: { ...verifierSize, goalGzippedBytes: VERIFIER_GZIPPED_GOAL_BYTES, met: verifierSize.gzippedBytes <= VERIFIER_GZIPPED_GOAL_BYTES },
    verifierSubpath: sizeOf(...staticClosure(sdk.metafile!, relative(ROOT, join(DIST, 'verifier.js'))).map((file) => new Uint8Array(readFileSync(join(ROOT, file))))),
    contributions: contributions(sdk.metafile!),
  }
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`
  console.error(`dist/index.js with its static chunks: ${kib(sdkSize.minifiedBytes)} minified, ${kib(sdkSize.gzippedBytes)} gzipped (goal ≤ ${kib(SDK_MINIFIED_GOAL_BYTES)} minified: ${report.sdk.met ? 'met' : 'NOT met'})`)
  console.error(`all ${report.shipped.files} shipped .js files (lazy chunks included): ${kib(report.shipped.minifiedBytes)} minified, ${kib(report.shipped.gzippedBytes)} gzipped`)
  console.error(`verifier alone: ${kib(verifierSize.minifiedBytes)} minified, ${kib(verifierSize.gzippedBytes)} gzipped (goal ≤ ${kib(VERIFIER_GZIPPED_GOAL_BYTES)} gzipped: ${report.verifier.met ? 'met' : 'NOT met'})`)
  console.error(`@nova-kms/client/verifier as shipped: ${kib(report.verifierSubpath.minifiedBytes)} minified, ${kib(report.verifierSubpath.gzippedBytes)} gzipped`)
  console.error(`declarations: ${declarations} files; largest parts of dist/: ${Object.entries(report.contributions).slice(0, 6).map(([name, bytes]) => `${name} ${kib(bytes)}`).join(', ')}`)
  if (!statSync(join(DIST, 'index.d.ts')).isFile()) throw new Error('dist/index.d.ts was not written')
  return report
}

const runAsScript = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (runAsScript) console.log(JSON.stringify(await buildClientPackage()))
