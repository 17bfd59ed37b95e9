/**
 * Node configuration (PROTOCOL §11): every variable is read once, here, validated, and
 * documented in the README. An invalid value fails node creation with a message that
 * names the variable.
 *
 * @module
 */
import { KmsError } from './errors'
import { parseHex, parseWallet, type Wallet } from './encoding'

export type Mode = 'enclave' | 'dev'

export interface NodeConfig {
  mode: Mode
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'
  bindHost: string
  bindPort: number
  novaAppRegistryAddress: Wallet
  kmsRegistryAddress: Wallet
  kmsAppId: number
  /** The chain RPC (`NODE_URL`). */
  chainRpcUrl: string
  /** Own public URL; empty until backfilled from the registry (§7.1 step 3). */
  nodeInstanceUrl: string
  odynUrl: string
  /** Dev only. */
  nodePrivateKey: Uint8Array | undefined
  /**
   * Dev only (`NODE_ENCRYPTION_KEY`): the stand-in's P-384 scalar (48 bytes), so that an
   * instance can be registered with its teePubkey before the process starts (the bench's
   * cold start, a scripted cluster). Random per process when absent.
   */
  nodeEncryptionKey: Uint8Array | undefined
  /** Dev only: preloads the master secret as `generated` (§7.5). */
  masterSecret: Uint8Array | undefined
  /** Dev only: replaces the dev attestation root (§3.2.3). */
  nitroRootCertPem: string | undefined
  nodeTickSeconds: number
  dataSyncIntervalSeconds: number
  peerCacheTtlSeconds: number
  registryCacheTtlSeconds: number
  maxAppStorageBytes: number
  maxKvValueSizeBytes: number
  tombstoneRetentionMs: number
  maxTombstonesPerApp: number
  popTimeoutSeconds: number
  maxNonces: number
  maxClockSkewMs: number
  rateLimitPerMinute: number
  nonceRateLimitPerMinute: number
  appRateLimitPerMinute: number
  signCertRateWeight: number
  maxRateBuckets: number
  maxRequestBodyBytes: number
  maxSyncPayloadBytes: number
  trustedProxyHops: number
  attestationMaxAgeSeconds: number
  caDefaultValiditySeconds: number
  caMaxValiditySeconds: number
  /** §3.5: 2 refuses v1 app requests (`Request binding required`). */
  minAppAuthVersion: 1 | 2
  /** §3.6: 2 refuses v1 /sync from every peer (ends a rolling upgrade). */
  minSyncVersion: 1 | 2
  /** §6.4: live records and tombstones per app, the same on every node. */
  maxRecordsPerApp: number
  /** §8.5: DNS SANs are issued only under `app-<app_id>.<suffix>`; empty issues none. */
  caDnsSuffix: string
  /** §12.3: request bodies buffered at once, over all requests (503 beyond). */
  maxInflightBodyBytes: number
  /** §12.3: requests in progress at once (503 beyond). */
  maxConcurrentRequests: number
  /** §12.3 (Node): header and whole-request timeouts of the HTTP server. */
  requestTimeoutSeconds: number
  /** §12.2: nonces (and /attestation documents) issued per minute by the whole node; 0 = off. */
  nodeNonceRateLimitPerMinute: number
}

export type ConfigEnvironment = Readonly<Record<string, unknown>>

function invalid(name: string, expected: string): KmsError {
  return new KmsError('internal_error', `Invalid configuration: ${name} must be ${expected}`)
}

function text(env: ConfigEnvironment, name: string): string | undefined {
  const value = env[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw invalid(name, 'a string')
  return value
}

function integer(env: ConfigEnvironment, name: string, fallback: number, minimum = 0): number {
  const value = text(env, name)?.trim()
  if (value === undefined || value === '') return fallback
  if (!/^\d{1,15}$/.test(value)) throw invalid(name, `an integer ≥ ${minimum}`)
  const parsed = Number(value)
  if (parsed < minimum) throw invalid(name, `an integer ≥ ${minimum}`)
  return parsed
}

function address(env: ConfigEnvironment, name: string, fallback: string): Wallet {
  const wallet = parseWallet(text(env, name) ?? fallback)
  if (wallet === undefined) throw invalid(name, 'a 20-byte hex address')
  return wallet
}

function httpUrl(env: ConfigEnvironment, name: string, fallback: string): string {
  const value = (text(env, name) ?? fallback).trim()
  if (!URL.canParse(value)) throw invalid(name, 'an http(s) URL')
  const url = new URL(value)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(name, 'an http(s) URL')
  return value
}

/** 127.0.0.0/8, `localhost` and `[::1]`: hosts that never leave the machine. */
export function isLoopbackHost(hostname: string): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/.test(hostname)
}

function version(env: ConfigEnvironment, name: string): 1 | 2 {
  const value = (text(env, name) ?? '1').trim()
  if (value !== '1' && value !== '2') throw invalid(name, '1 or 2')
  return value === '2' ? 2 : 1
}

/** Lowercase DNS labels joined by dots (RFC 1035 §2.3.1), or empty. */
function dnsSuffix(env: ConfigEnvironment, name: string): string {
  const value = (text(env, name) ?? '').trim().toLowerCase().replace(/\.$/, '')
  if (value === '') return ''
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
  if (value.length > 200 || !value.split('.').every((part) => label.test(part))) throw invalid(name, 'a DNS name such as kms.example.com, or empty')
  return value
}

function bindAddress(env: ConfigEnvironment): { host: string; port: number } {
  const value = text(env, 'BIND_ADDR') ?? '0.0.0.0:8000'
  const match = /^(.+):(\d{1,5})$/.exec(value.trim())
  const port = match === null ? NaN : Number(match[2])
  if (match === null || !(port >= 0 && port <= 65535)) throw invalid('BIND_ADDR', 'host:port')
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port }
}

function fixedBytes(env: ConfigEnvironment, name: string, length: number): Uint8Array | undefined {
  const value = text(env, name)?.trim()
  if (value === undefined || value === '') return undefined
  const digits = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value
  const bytes = digits.length === length * 2 ? parseHex(digits) : undefined
  if (bytes === undefined) throw invalid(name, `exactly ${length * 2} hex digits`)
  return bytes
}

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const

/**
 * Reads and validates the whole configuration.
 * @throws KmsError `internal_error` naming the first invalid variable, or a variable that
 *   enclave mode forbids (§11: the host must never choose keys, secrets or roots).
 */
export function readConfig(env: ConfigEnvironment): NodeConfig {
  const mode: Mode = (text(env, 'IN_ENCLAVE') ?? 'true').trim().toLowerCase() === 'true' ? 'enclave' : 'dev'
  if (mode === 'enclave') {
    for (const forbidden of ['NODE_PRIVATE_KEY', 'NODE_ENCRYPTION_KEY', 'MASTER_SECRET_HEX', 'NITRO_ROOT_CERT_PEM']) {
      if (text(env, forbidden) !== undefined) {
        throw new KmsError('internal_error', `Invalid configuration: ${forbidden} is not allowed in enclave mode`)
      }
    }
  }
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'INFO').trim().toUpperCase()
  if (!LOG_LEVELS.includes(logLevel as (typeof LOG_LEVELS)[number])) throw invalid('LOG_LEVEL', LOG_LEVELS.join(', '))
  const bind = bindAddress(env)
  const nodeInstanceUrl = (text(env, 'NODE_INSTANCE_URL') ?? '').trim()
  if (nodeInstanceUrl !== '') httpUrl(env, 'NODE_INSTANCE_URL', '')
  const odynUrl = httpUrl(env, 'ODYN_URL', 'http://127.0.0.1:18000')
  // The helper is local to the enclave: plain http to a loopback host, never the network.
  const odynHost = new URL(odynUrl).hostname
  if (mode === 'enclave' && (new URL(odynUrl).protocol !== 'http:' || !isLoopbackHost(odynHost))) {
    throw invalid('ODYN_URL', 'http on a loopback host in enclave mode')
  }
  // Over plain http to another host, the host could forge the registry and collect the
  // secret (M4): in enclave mode the chain is Helios on loopback, or https.
  const chainRpcUrl = httpUrl(env, 'NODE_URL', 'http://127.0.0.1:18545')
  const chainUrl = new URL(chainRpcUrl)
  if (mode === 'enclave' && chainUrl.protocol !== 'https:' && !isLoopbackHost(chainUrl.hostname)) {
    throw invalid('NODE_URL', 'https, or http on a loopback host, in enclave mode')
  }
  const caMaxValiditySeconds = integer(env, 'CA_MAX_VALIDITY_SECONDS', 2_592_000, 1)
  const caDefaultValiditySeconds = integer(env, 'CA_DEFAULT_VALIDITY_SECONDS', 604_800, 1)
  if (caDefaultValiditySeconds > caMaxValiditySeconds) {
    throw invalid('CA_DEFAULT_VALIDITY_SECONDS', 'at most CA_MAX_VALIDITY_SECONDS')
  }
  const maxKvValueSizeBytes = integer(env, 'MAX_KV_VALUE_SIZE_BYTES', 1_048_576, 1)
  const maxAppStorageBytes = integer(env, 'MAX_APP_STORAGE_BYTES', 10_485_760, 1)
  // The record just written is never evicted (§6.4), so one maximal record must fit, charged
  // as every node charges it: ciphertext, the widest key (2046 bytes), the overhead and a few
  // clock entries, or a record accepted here would be refused by a peer's ingest.
  if (maxAppStorageBytes < maxKvValueSizeBytes + 28 + 4096) throw invalid('MAX_APP_STORAGE_BYTES', 'at least MAX_KV_VALUE_SIZE_BYTES + 4124')
  // /sync refuses everyone once the peer cache is older than its TTL (§4.2 step 1a), and only
  // node_tick refreshes it: a TTL not above the tick would refuse /sync between ticks.
  const nodeTickSeconds = Math.max(1, integer(env, 'KMS_NODE_TICK_SECONDS', 60))
  const peerCacheTtlSeconds = integer(env, 'PEER_CACHE_TTL_SECONDS', 180)
  if (peerCacheTtlSeconds <= nodeTickSeconds) throw invalid('PEER_CACHE_TTL_SECONDS', 'greater than KMS_NODE_TICK_SECONDS')
  const kmsAppId = integer(env, 'KMS_APP_ID', 49, 1)
  if (!Number.isSafeInteger(kmsAppId)) throw invalid('KMS_APP_ID', 'a safe integer')
  return {
    mode,
    logLevel: logLevel as NodeConfig['logLevel'],
    bindHost: bind.host,
    bindPort: bind.port,
    novaAppRegistryAddress: address(env, 'NOVA_APP_REGISTRY_ADDRESS', '0x0f68E6e699f2E972998a1EcC000c7ce103E64cc8'),
    kmsRegistryAddress: address(env, 'KMS_REGISTRY_ADDRESS', '0x6a28D24c9AEcdceC9B021ee6960FdDE592796af7'),
    kmsAppId,
    chainRpcUrl,
    nodeInstanceUrl,
    odynUrl,
    nodePrivateKey: mode === 'dev' ? fixedBytes(env, 'NODE_PRIVATE_KEY', 32) : undefined,
    nodeEncryptionKey: mode === 'dev' ? fixedBytes(env, 'NODE_ENCRYPTION_KEY', 48) : undefined,
    masterSecret: mode === 'dev' ? fixedBytes(env, 'MASTER_SECRET_HEX', 32) : undefined,
    nitroRootCertPem: mode === 'dev' ? text(env, 'NITRO_ROOT_CERT_PEM') : undefined,
    nodeTickSeconds,
    dataSyncIntervalSeconds: Math.max(1, integer(env, 'DATA_SYNC_INTERVAL_SECONDS', 10)),
    peerCacheTtlSeconds,
    registryCacheTtlSeconds: integer(env, 'REGISTRY_CACHE_TTL_SECONDS', 5),
    maxAppStorageBytes,
    maxKvValueSizeBytes,
    tombstoneRetentionMs: integer(env, 'TOMBSTONE_RETENTION_MS', 86_400_000),
    maxTombstonesPerApp: integer(env, 'MAX_TOMBSTONES_PER_APP', 10_000),
    popTimeoutSeconds: integer(env, 'POP_TIMEOUT_SECONDS', 120, 1),
    maxNonces: integer(env, 'MAX_NONCES', 4096, 1),
    maxClockSkewMs: integer(env, 'MAX_CLOCK_SKEW_MS', 15_000),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 120),
    nonceRateLimitPerMinute: integer(env, 'NONCE_RATE_LIMIT_PER_MINUTE', 30),
    appRateLimitPerMinute: integer(env, 'APP_RATE_LIMIT_PER_MINUTE', 6000),
    signCertRateWeight: integer(env, 'SIGN_CERT_RATE_WEIGHT', 10, 1),
    maxRateBuckets: integer(env, 'MAX_RATE_BUCKETS', 65_536, 1),
    maxRequestBodyBytes: integer(env, 'MAX_REQUEST_BODY_BYTES', 3_145_728, 1),
    maxSyncPayloadBytes: integer(env, 'MAX_SYNC_PAYLOAD_BYTES', 52_428_800, 1),
    trustedProxyHops: integer(env, 'TRUSTED_PROXY_HOPS', 0),
    attestationMaxAgeSeconds: integer(env, 'ATTESTATION_MAX_AGE_SECONDS', 300, 1),
    caDefaultValiditySeconds,
    caMaxValiditySeconds,
    minAppAuthVersion: version(env, 'MIN_APP_AUTH_VERSION'),
    minSyncVersion: version(env, 'MIN_SYNC_VERSION'),
    maxRecordsPerApp: integer(env, 'MAX_RECORDS_PER_APP', 50_000, 1),
    caDnsSuffix: dnsSuffix(env, 'CA_DNS_SUFFIX'),
    maxInflightBodyBytes: integer(env, 'MAX_INFLIGHT_BODY_BYTES', 100_663_296, 1),
    maxConcurrentRequests: integer(env, 'MAX_CONCURRENT_REQUESTS', 256, 1),
    requestTimeoutSeconds: integer(env, 'REQUEST_TIMEOUT_SECONDS', 30, 1),
    nodeNonceRateLimitPerMinute: integer(env, 'NODE_NONCE_RATE_LIMIT_PER_MINUTE', 1800),
  }
}
