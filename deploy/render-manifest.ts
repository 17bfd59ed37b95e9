/**
 * Writes enclaver.yaml from deploy/enclaver.template.yaml and the operator's values in
 * deploy/operator.env, the one place those values are set (README, "Deploying to the Nova
 * platform"):
 *
 *   npx tsx deploy/render-manifest.ts [--env deploy/operator.env] [--out enclaver.yaml] [--check]
 *
 * Every value is checked first; a bad one stops the script, naming it. `--check` writes
 * nothing and exits 1 if the file differs from what the values give. On success it prints the
 * docker build command, whose build arguments come from the same file.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readConfig } from '../core/config'

export const OPERATOR_KEYS = [
  'EXECUTION_RPC_URL',
  'PEER_HOST_PATTERN',
  'KMS_REGISTRY_ADDRESS',
  'NOVA_APP_REGISTRY_ADDRESS',
  'KMS_APP_ID',
  'APP_CAPACITY',
] as const

export type OperatorKey = (typeof OPERATOR_KEYS)[number]
export type OperatorValues = Record<OperatorKey, string>

/** The node settings that the Dockerfile takes as build arguments (they become its ENV). */
export const BUILD_ARG_KEYS = ['KMS_REGISTRY_ADDRESS', 'NOVA_APP_REGISTRY_ADDRESS', 'KMS_APP_ID'] as const satisfies readonly OperatorKey[]

const MIB = 1024 * 1024
/**
 * The fixed part of an enclave's memory, in MiB, as enclaver.yaml's comment breaks it down:
 * root file system 384, runtime processes 256, kernel 64, the node under floods 320.
 */
export const FIXED_MB = 384 + 256 + 64 + 320
/** V8 lets a heap grow to about twice its live size between major collections. */
const HEAP_GROWTH = 2
const MEMORY_STEP_MB = 256

export interface Sizing {
  fixedMb: number
  /** 2 × MAX_APP_STORAGE_BYTES, in MiB. */
  perAppMb: number
  /** MAX_APP_STORAGE_BYTES × apps, in MiB: the charged data a node may hold. */
  dataMb: number
  neededMb: number
  /** `defaults.memory_mb`: neededMb rounded up to a multiple of 256. */
  memoryMb: number
}

/** `defaults.memory_mb` for a cluster sized for `appCapacity` apps at the default storage cap. */
export function manifestSizing(appCapacity: number): Sizing {
  const storageMb = readConfig({}).maxAppStorageBytes / MIB
  const perAppMb = HEAP_GROWTH * storageMb
  const neededMb = FIXED_MB + appCapacity * perAppMb
  return {
    fixedMb: FIXED_MB,
    perAppMb,
    dataMb: appCapacity * storageMb,
    neededMb,
    memoryMb: Math.ceil(neededMb / MEMORY_STEP_MB) * MEMORY_STEP_MB,
  }
}

function invalid(key: string, expected: string): Error {
  return new Error(`deploy/operator.env: ${key} must be ${expected}`)
}

/** `KEY=value` lines and `#` comment lines; every key of {@link OPERATOR_KEYS} exactly once. */
export function parseOperatorEnv(text: string): OperatorValues {
  const values: Partial<OperatorValues> = {}
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = /^([A-Z][A-Z0-9_]*)=(\S*)$/.exec(line)
    if (match === null) throw new Error(`deploy/operator.env line ${index + 1}: expected KEY=value without spaces or quotes`)
    const [, key, value] = match as unknown as [string, string, string]
    if (!(OPERATOR_KEYS as readonly string[]).includes(key)) throw new Error(`deploy/operator.env line ${index + 1}: unknown key ${key}; the keys are ${OPERATOR_KEYS.join(', ')}`)
    if (key in values) throw new Error(`deploy/operator.env line ${index + 1}: ${key} is set twice`)
    if (/["'\\`$]/.test(value)) throw new Error(`deploy/operator.env line ${index + 1}: ${key} has a quote, backslash or $`)
    values[key as OperatorKey] = value
  }
  for (const key of OPERATOR_KEYS) if (values[key] === undefined) throw new Error(`deploy/operator.env: ${key} is missing`)
  return values as OperatorValues
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const isDnsName = (name: string): boolean => name.length <= 253 && name.split('.').length >= 2 && name.split('.').every((label) => LABEL.test(label)) && !/^[0-9.]+$/.test(name)
const EXAMPLE_HOST = /(^|\.)(example\.(org|com|net)|invalid|test|localhost)$/

/** The checks of every value; returns warnings for values that are still the examples. */
export function checkOperatorValues(values: OperatorValues): string[] {
  const warnings: string[] = []
  const rpc = values.EXECUTION_RPC_URL
  if (!URL.canParse(rpc)) throw invalid('EXECUTION_RPC_URL', 'an https URL')
  const url = new URL(rpc)
  if (url.protocol !== 'https:') throw invalid('EXECUTION_RPC_URL', 'an https URL')
  if (url.username !== '' || url.password !== '') throw invalid('EXECUTION_RPC_URL', 'a URL without credentials')
  // Egress patterns are DNS names; an IP literal would need an IP entry of its own (RUNTIME.md §3).
  if (!isDnsName(url.hostname)) throw invalid('EXECUTION_RPC_URL', 'an https URL on a DNS name, not an IP address')
  if (!/^[A-Za-z0-9\-._~:/?#[\]@!&()*+,;=%]+$/.test(rpc)) throw invalid('EXECUTION_RPC_URL', 'a URL of RFC 3986 characters only')
  if (EXAMPLE_HOST.test(url.hostname)) warnings.push(`EXECUTION_RPC_URL is the example ${rpc}: set your Base mainnet execution RPC`)

  const pattern = values.PEER_HOST_PATTERN
  // One label (`*`), not `**`: the nodes are node-N.<domain>, and nothing deeper needs reaching.
  if (!pattern.startsWith('*.') || !isDnsName(pattern.slice(2))) throw invalid('PEER_HOST_PATTERN', '"*." and a lowercase DNS name of two labels or more, such as *.kms.example.org')
  if (EXAMPLE_HOST.test(pattern.slice(2))) warnings.push(`PEER_HOST_PATTERN is the example ${pattern}: set the domain of your nodes' instanceUrl`)

  for (const key of ['KMS_REGISTRY_ADDRESS', 'NOVA_APP_REGISTRY_ADDRESS'] as const) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(values[key]) || /^0x0{40}$/.test(values[key])) throw invalid(key, 'a non-zero 20-byte address (0x and 40 hex digits)')
  }
  if (values.KMS_REGISTRY_ADDRESS.toLowerCase() === readConfig({}).kmsRegistryAddress) {
    warnings.push('KMS_REGISTRY_ADDRESS is the upstream KMSRegistry: set the one `contracts/deploy/cli.ts deploy` printed for you')
  }
  if (!/^[1-9][0-9]{0,14}$/.test(values.KMS_APP_ID)) throw invalid('KMS_APP_ID', 'a positive integer')
  if (!/^[1-9][0-9]{0,4}$/.test(values.APP_CAPACITY)) throw invalid('APP_CAPACITY', 'an integer from 1 to 99999')
  return warnings
}

/** The manifest's text: the template with every `{{NAME}}` filled in, under a generated-file header. */
export function renderManifest(values: OperatorValues, template: string, version: string): string {
  checkOperatorValues(values)
  const sizing = manifestSizing(Number(values.APP_CAPACITY))
  const fill: Record<string, string> = {
    VERSION: version,
    EXECUTION_RPC_URL: values.EXECUTION_RPC_URL,
    EXECUTION_RPC_HOST: new URL(values.EXECUTION_RPC_URL).hostname,
    PEER_HOST_PATTERN: values.PEER_HOST_PATTERN,
    APP_CAPACITY: values.APP_CAPACITY,
    FIXED_MB: `${sizing.fixedMb} MiB`,
    PER_APP_MB: `${sizing.perAppMb} MiB`,
    DATA_MB: String(sizing.dataMb),
    NEEDED_MB: `${sizing.neededMb} MiB`,
    MEMORY_MB: String(sizing.memoryMb),
  }
  const body = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = fill[name]
    if (value === undefined) throw new Error(`deploy/enclaver.template.yaml: unknown placeholder {{${name}}}`)
    return value
  })
  return [
    '# GENERATED by `npx tsx deploy/render-manifest.ts` from deploy/enclaver.template.yaml and',
    '# deploy/operator.env: edit those two and render again, never this file.',
    body,
  ].join('\n')
}

export const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** package.json's version: the image tags `nova-kms:<version>` and `nova-kms:<version>-enclave`. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(resolve(REPOSITORY_ROOT, 'package.json'), 'utf8')) as { version: string }).version
}

function main(argv: string[]): number {
  const flag = (name: string, fallback: string): string => {
    const index = argv.indexOf(name)
    return index === -1 ? fallback : (argv[index + 1] ?? fallback)
  }
  const envPath = resolve(flag('--env', resolve(REPOSITORY_ROOT, 'deploy/operator.env')))
  const outPath = resolve(flag('--out', resolve(REPOSITORY_ROOT, 'enclaver.yaml')))
  const values = parseOperatorEnv(readFileSync(envPath, 'utf8'))
  for (const warning of checkOperatorValues(values)) console.error(`warning: ${warning}`)
  const version = packageVersion()
  const text = renderManifest(values, readFileSync(resolve(REPOSITORY_ROOT, 'deploy/enclaver.template.yaml'), 'utf8'), version)
  const shown = relative(process.cwd(), outPath) || outPath
  if (argv.includes('--check')) {
    let current = ''
    try {
      current = readFileSync(outPath, 'utf8')
    } catch {
      // A missing file differs.
    }
    if (current !== text) {
      console.error(`${shown} differs from what ${relative(process.cwd(), envPath)} gives: run npx tsx deploy/render-manifest.ts`)
      return 1
    }
    console.log(`${shown} is up to date`)
    return 0
  }
  writeFileSync(outPath, text)
  console.log(`wrote ${shown} (memory_mb ${manifestSizing(Number(values.APP_CAPACITY)).memoryMb} for ${values.APP_CAPACITY} apps)`)
  console.log('next, from the repository root:')
  console.log(`  docker build ${BUILD_ARG_KEYS.map((key) => `--build-arg ${key}=${values[key]}`).join(' ')} -t nova-kms:${version} .`)
  console.log(`  enclaver build -f ${shown}`)
  return 0
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2))
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exitCode = 1
  }
}
