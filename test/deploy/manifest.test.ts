/**
 * enclaver.yaml, the enclave manifest (issue 13; docs/RUNTIME.md §3). The runtime rejects
 * unknown fields at build and run, so every field is checked against the list that §3 gives,
 * written out below; then the properties the node relies on: Helios on the port of its
 * default NODE_URL, Odyn on the port of its default ODYN_URL, ingress on BIND_ADDR's port,
 * an egress list of exactly the execution RPC and the peers, no storage. The file must also
 * be exactly what deploy/render-manifest.ts makes of deploy/operator.env.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseDocument } from 'yaml'
import { readConfig } from '../../core/config'
import {
  FIXED_MB,
  REPOSITORY_ROOT,
  checkOperatorValues,
  manifestSizing,
  packageVersion,
  parseOperatorEnv,
  renderManifest,
  type OperatorValues,
} from '../../deploy/render-manifest'

const read = (path: string): string => readFileSync(resolve(REPOSITORY_ROOT, path), 'utf8')
const MIB = 1024 * 1024

/** A field's shape: a scalar, a map of named fields, a list of one shape, or anything (`storage.*`). */
type Shape = 'scalar' | 'any' | { readonly [field: string]: Shape } | readonly [Shape]

/** The fields of RUNTIME.md §3, "Manifest and network inside the enclave", as that section lists them. */
const RUNTIME_MANIFEST_FIELDS: { readonly [field: string]: Shape } = {
  version: 'scalar',
  name: 'scalar',
  target: 'scalar',
  sources: { app: 'scalar' },
  signature: { certificate: 'scalar', key: 'scalar' },
  defaults: { cpu_count: 'scalar', memory_mb: 'scalar' },
  ingress: [{ listen_port: 'scalar' }],
  egress: { proxy_port: 'scalar', allow: ['scalar'], deny: ['scalar'] },
  kms_integration: { enabled: 'scalar', use_app_wallet: 'scalar', kms_app_id: 'scalar', nova_app_registry: 'scalar' },
  api: { listen_port: 'scalar' },
  aux_api: { listen_port: 'scalar' },
  helios_rpc: {
    enabled: 'scalar',
    chains: [
      {
        name: 'scalar',
        network_id: 'scalar',
        kind: 'scalar',
        network: 'scalar',
        execution_rpc: 'scalar',
        local_rpc_port: 'scalar',
        consensus_rpc: 'scalar',
        checkpoint: 'scalar',
      },
    ],
  },
  storage: 'any',
  clock_sync: { enabled: 'scalar', interval_secs: 'scalar' },
}

/** Every place where `value` leaves `shape`, as `path: what`. */
function schemaViolations(value: unknown, shape: Shape, path: string): string[] {
  if (shape === 'any') return []
  if (shape === 'scalar') {
    return value === null || ['string', 'number', 'boolean'].includes(typeof value) ? [] : [`${path}: expected a scalar`]
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: expected a list`]
    return value.flatMap((item, index) => schemaViolations(item, shape[0] as Shape, `${path}[${index}]`))
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected a map`]
  const fields = shape as { readonly [field: string]: Shape }
  return Object.entries(value).flatMap(([field, child]) => {
    const childPath = path === '' ? field : `${path}.${field}`
    const childShape = fields[field]
    return childShape === undefined ? [`${childPath}: not a field of the runtime's manifest`] : schemaViolations(child, childShape, childPath)
  })
}

/** Parses YAML strictly (duplicate keys are errors, as in the runtime's serde_yaml). */
function parseYaml(text: string): Record<string, unknown> {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true })
  if (document.errors.length > 0) throw new Error(document.errors.map((error) => error.message).join('\n'))
  return document.toJS() as Record<string, unknown>
}

interface Manifest {
  version: string
  sources: { app: string }
  defaults: { cpu_count: number; memory_mb: number }
  ingress: { listen_port: number }[]
  egress: { proxy_port?: number; allow: string[]; deny?: string[] }
  api: { listen_port: number }
  helios_rpc: { enabled: boolean; chains: { name: string; network_id?: string; kind: string; network: string; execution_rpc: string; local_rpc_port: number }[] }
  storage?: unknown
  kms_integration?: unknown
}

const manifestText = read('enclaver.yaml')
const manifest = parseYaml(manifestText) as unknown as Manifest
const operator = parseOperatorEnv(read('deploy/operator.env'))
/** The node's defaults in enclave mode, where these ports come from. */
const config = readConfig({})

describe('enclaver.yaml: the runtime schema (RUNTIME.md §3)', () => {
  it('behavior: every field of the manifest is one that RUNTIME.md §3 lists, with the shape it has there', () => {
    expect(schemaViolations(manifest, RUNTIME_MANIFEST_FIELDS, '')).toEqual([])
    expect(manifest.version).toBe('v1')
  })

  it('behavior: the check catches an unknown field, at any depth', () => {
    const withExtra = parseYaml(`${manifestText}\nhealthcheck: {}\n`)
    expect(schemaViolations(withExtra, RUNTIME_MANIFEST_FIELDS, '')).toEqual(['healthcheck: not a field of the runtime\'s manifest'])
    const deeper = parseYaml(manifestText.replace('      local_rpc_port: 18545', '      local_rpc_port: 18545\n      listen_port: 18545'))
    expect(schemaViolations(deeper, RUNTIME_MANIFEST_FIELDS, '')).toEqual(['helios_rpc.chains[0].listen_port: not a field of the runtime\'s manifest'])
  })

  it('behavior: the field list written here is the one RUNTIME.md §3 gives (a change there shows here)', () => {
    const runtime = read('docs/RUNTIME.md')
    const section = runtime.slice(runtime.indexOf('## 3. Manifest and network inside the enclave'))
    const fieldList = section.slice(0, section.indexOf('- **Chain reads.**'))
    const names = (shape: Shape): string[] =>
      shape === 'scalar' || shape === 'any' ? [] : Array.isArray(shape) ? names(shape[0] as Shape) : Object.entries(shape).flatMap(([field, child]) => [field, ...names(child)])
    for (const field of names(RUNTIME_MANIFEST_FIELDS)) expect(fieldList, field).toMatch(new RegExp(`[\`.{,]${field}[\`.,}\\[]`))
    // And §3 lists no top-level field that the tree lacks.
    const listed = fieldList
      .split('\n')
      .filter((line) => line.startsWith('  - `'))
      .flatMap((line) => [...line.matchAll(/`([a-z_]+)/g)].map((match) => match[1]!))
    expect(listed.length).toBeGreaterThanOrEqual(14)
    expect(Object.keys(RUNTIME_MANIFEST_FIELDS).sort()).toEqual([...new Set(listed)].sort())
  })
})

describe('enclaver.yaml: what the node needs of it', () => {
  const [chain] = manifest.helios_rpc.chains

  it('behavior: Helios serves Base (opstack, network base) on the port of the default NODE_URL', () => {
    expect(manifest.helios_rpc.enabled).toBe(true)
    expect(manifest.helios_rpc.chains).toHaveLength(1)
    expect(chain).toMatchObject({ kind: 'opstack', network: 'base', network_id: '8453' })
    const nodeUrl = new URL(config.chainRpcUrl)
    expect(nodeUrl.hostname).toBe('127.0.0.1')
    expect(chain!.local_rpc_port).toBe(Number(nodeUrl.port))
    expect(chain!.local_rpc_port).toBe(18545)
    expect(new URL(chain!.execution_rpc).protocol).toBe('https:')
    expect(chain!.execution_rpc).toBe(operator.EXECUTION_RPC_URL)
  })

  it('behavior: Odyn (api) listens on the port of the default ODYN_URL, ingress on BIND_ADDR\'s port', () => {
    expect(manifest.api.listen_port).toBe(Number(new URL(config.odynUrl).port))
    expect(manifest.api.listen_port).toBe(18000)
    expect(manifest.ingress).toEqual([{ listen_port: config.bindPort }])
    expect(config.bindPort).toBe(8000)
  })

  it('behavior: egress allows exactly two entries, the execution RPC host and the peers\' one-label pattern', () => {
    expect(manifest.egress.allow).toHaveLength(2)
    expect(manifest.egress.allow).toEqual([new URL(chain!.execution_rpc).hostname, operator.PEER_HOST_PATTERN])
    expect(manifest.egress.allow[1]).toMatch(/^\*\.[a-z0-9-]+(\.[a-z0-9-]+)+$/)
    expect(manifest.egress.deny).toBeUndefined()
  })

  it('behavior: no storage (the data is in memory by design), and no kms_integration (this is the KMS)', () => {
    expect(manifest.storage).toBeUndefined()
    expect(manifest.kms_integration).toBeUndefined()
  })

  it('behavior: memory_mb covers the fixed part and twice the charged data cap of every app it is sized for', () => {
    const apps = Number(operator.APP_CAPACITY)
    const sizing = manifestSizing(apps)
    expect(manifest.defaults).toEqual({ cpu_count: 2, memory_mb: sizing.memoryMb })
    expect(config.maxAppStorageBytes).toBe(10 * MIB)
    expect(manifest.defaults.memory_mb).toBeGreaterThanOrEqual(FIXED_MB + apps * 2 * (config.maxAppStorageBytes / MIB))
    // The node's part of the fixed budget holds the worst peak the floods measured (185 MB)
    // plus a full MAX_INFLIGHT_BODY_BYTES of buffered bodies.
    expect(320 * MIB).toBeGreaterThanOrEqual(185e6 + config.maxInflightBodyBytes)
    // V8's old-space limit, half the memory on 64-bit Node, holds all the data and a node at rest.
    expect(manifest.defaults.memory_mb / 2).toBeGreaterThan(sizing.dataMb + 185)
    expect(manifestSizing(48).memoryMb).toBe(2048)
  })

  it('behavior: the image it wraps is the one the Dockerfile builds for this version', () => {
    expect(manifest.sources.app).toBe(`nova-kms:${packageVersion()}`)
  })
})

describe('deploy/render-manifest.ts: operator values come in through deploy/operator.env alone', () => {
  const template = read('deploy/enclaver.template.yaml')
  const version = packageVersion()
  const real: OperatorValues = {
    EXECUTION_RPC_URL: 'https://base.rpc-provider.io/v1/public',
    PEER_HOST_PATTERN: '*.kms.acme.io',
    KMS_REGISTRY_ADDRESS: '0x1111111111111111111111111111111111111111',
    NOVA_APP_REGISTRY_ADDRESS: '0x0f68E6e699f2E972998a1EcC000c7ce103E64cc8',
    KMS_APP_ID: '49',
    APP_CAPACITY: '100',
  }

  it('behavior: enclaver.yaml is exactly what the template and deploy/operator.env give', () => {
    expect(manifestText).toBe(renderManifest(operator, template, version))
  })

  it('behavior: another operator\'s values give a manifest of the same schema with their hosts and memory', () => {
    const rendered = parseYaml(renderManifest(real, template, version)) as unknown as Manifest
    expect(schemaViolations(rendered, RUNTIME_MANIFEST_FIELDS, '')).toEqual([])
    expect(rendered.egress.allow).toEqual(['base.rpc-provider.io', '*.kms.acme.io'])
    expect(rendered.helios_rpc.chains[0]!.execution_rpc).toBe(real.EXECUTION_RPC_URL)
    expect(rendered.defaults.memory_mb).toBe(3072)
    expect(checkOperatorValues(real)).toEqual([])
  })

  it('behavior: the example values in the repository are flagged as examples', () => {
    expect(checkOperatorValues(operator).join('\n')).toMatch(/EXECUTION_RPC_URL is the example/)
  })

  it('behavior: a bad value is refused, naming the key', () => {
    const refused = (change: Partial<OperatorValues>): string => {
      try {
        renderManifest({ ...real, ...change }, template, version)
        return 'accepted'
      } catch (error) {
        return (error as Error).message
      }
    }
    expect(refused({ EXECUTION_RPC_URL: 'http://base.rpc-provider.io' })).toMatch(/EXECUTION_RPC_URL must be an https URL/)
    expect(refused({ EXECUTION_RPC_URL: 'https://203.0.113.7/rpc' })).toMatch(/EXECUTION_RPC_URL must be an https URL on a DNS name/)
    expect(refused({ EXECUTION_RPC_URL: 'https://user:secret@base.rpc-provider.io' })).toMatch(/without credentials/)
    expect(refused({ PEER_HOST_PATTERN: '**.kms.acme.io' })).toMatch(/PEER_HOST_PATTERN must be/)
    expect(refused({ PEER_HOST_PATTERN: '*.io' })).toMatch(/PEER_HOST_PATTERN must be/)
    expect(refused({ PEER_HOST_PATTERN: 'node-1.kms.acme.io' })).toMatch(/PEER_HOST_PATTERN must be/)
    expect(refused({ KMS_REGISTRY_ADDRESS: '0x0000000000000000000000000000000000000000' })).toMatch(/KMS_REGISTRY_ADDRESS must be/)
    expect(refused({ KMS_APP_ID: '0' })).toMatch(/KMS_APP_ID must be/)
    expect(refused({ APP_CAPACITY: 'many' })).toMatch(/APP_CAPACITY must be/)
  })

  it('behavior: the env file is KEY=value lines with every key once and nothing else', () => {
    const lines = Object.entries(real).map(([key, value]) => `${key}=${value}`)
    expect(parseOperatorEnv(['# a comment', '', ...lines].join('\n'))).toEqual(real)
    expect(() => parseOperatorEnv(lines.slice(1).join('\n'))).toThrow(/EXECUTION_RPC_URL is missing/)
    expect(() => parseOperatorEnv([...lines, 'NODE_PRIVATE_KEY=00'].join('\n'))).toThrow(/unknown key NODE_PRIVATE_KEY/)
    expect(() => parseOperatorEnv([...lines, lines[0]].join('\n'))).toThrow(/set twice/)
    expect(() => parseOperatorEnv(['EXECUTION_RPC_URL="https://x.io"', ...lines.slice(1)].join('\n'))).toThrow(/quote/)
    expect(() => parseOperatorEnv(['EXECUTION_RPC_URL = https://x.io', ...lines.slice(1)].join('\n'))).toThrow(/KEY=value/)
  })
})
