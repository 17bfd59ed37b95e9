import { describe, expect, it } from 'vitest'
import { readConfig } from '../../../core/config'
import { KmsError } from '../../../core/errors'

function failure(env: Record<string, string>): string {
  try {
    readConfig(env)
  } catch (error) {
    if (error instanceof KmsError) return `${error.code}: ${error.message}`
    throw error
  }
  throw new Error('expected a configuration error')
}

describe('configuration (PROTOCOL §11)', () => {
  it('behavior: defaults', () => {
    const config = readConfig({})
    expect(config).toMatchObject({
      mode: 'enclave', bindHost: '0.0.0.0', bindPort: 8000, kmsAppId: 49, chainRpcUrl: 'http://127.0.0.1:18545',
      novaAppRegistryAddress: '0x0f68e6e699f2e972998a1ecc000c7ce103e64cc8', kmsRegistryAddress: '0x6a28d24c9aecdcec9b021ee6960fdde592796af7',
      popTimeoutSeconds: 120, maxNonces: 4096, rateLimitPerMinute: 120, nonceRateLimitPerMinute: 30, appRateLimitPerMinute: 6000,
      maxRequestBodyBytes: 3_145_728, maxSyncPayloadBytes: 52_428_800, caDefaultValiditySeconds: 604_800, caMaxValiditySeconds: 2_592_000,
    })
  })
  it('behavior: only IN_ENCLAVE=true selects enclave mode', () => {
    expect(readConfig({ IN_ENCLAVE: 'false' }).mode).toBe('dev')
    expect(readConfig({ IN_ENCLAVE: 'no' }).mode).toBe('dev')
    expect(readConfig({ IN_ENCLAVE: 'TRUE' }).mode).toBe('enclave')
  })
  it('error: enclave mode refuses host-chosen keys, secrets and roots (conformance 48)', () => {
    for (const name of ['NODE_PRIVATE_KEY', 'NODE_ENCRYPTION_KEY', 'MASTER_SECRET_HEX', 'NITRO_ROOT_CERT_PEM']) {
      expect(failure({ IN_ENCLAVE: 'true', [name]: 'x' })).toBe(`internal_error: Invalid configuration: ${name} is not allowed in enclave mode`)
    }
  })
  it('error: invalid values name their variable', () => {
    expect(failure({ KMS_APP_ID: 'abc' })).toContain('KMS_APP_ID')
    expect(failure({ BIND_ADDR: 'nowhere' })).toContain('BIND_ADDR')
    expect(failure({ NODE_URL: 'ftp://x' })).toContain('NODE_URL')
    expect(failure({ KMS_REGISTRY_ADDRESS: '0x12' })).toContain('KMS_REGISTRY_ADDRESS')
    expect(failure({ IN_ENCLAVE: 'false', MASTER_SECRET_HEX: 'abcd' })).toContain('MASTER_SECRET_HEX')
    expect(failure({ CA_DEFAULT_VALIDITY_SECONDS: '2592001' })).toContain('CA_DEFAULT_VALIDITY_SECONDS')
    expect(failure({ ODYN_URL: 'https://10.0.0.1:18000' })).toContain('ODYN_URL')
    expect(failure({ LOG_LEVEL: 'LOUD' })).toContain('LOG_LEVEL')
  })
  it('behavior: dev-only variables are honoured in dev mode', () => {
    const config = readConfig({ IN_ENCLAVE: 'false', MASTER_SECRET_HEX: '0x' + '00'.repeat(31) + '01', BIND_ADDR: '127.0.0.1:0' })
    expect(config.masterSecret?.[31]).toBe(1)
    expect(config.bindPort).toBe(0)
  })
  it('behavior: NODE_ENCRYPTION_KEY is 96 hex digits (a P-384 scalar), dev only', () => {
    expect(readConfig({ IN_ENCLAVE: 'false', NODE_ENCRYPTION_KEY: '0x' + '11'.repeat(48) }).nodeEncryptionKey).toEqual(new Uint8Array(48).fill(0x11))
    expect(readConfig({ IN_ENCLAVE: 'false' }).nodeEncryptionKey).toBeUndefined()
    expect(failure({ IN_ENCLAVE: 'false', NODE_ENCRYPTION_KEY: '11'.repeat(32) })).toBe('internal_error: Invalid configuration: NODE_ENCRYPTION_KEY must be exactly 96 hex digits')
  })
})

describe('configuration for a hostile host (issue 12)', () => {
  it('error: enclave mode refuses a plain-http chain RPC that is not on loopback (M4)', () => {
    expect(failure({ IN_ENCLAVE: 'true', NODE_URL: 'http://rpc.example.com:8545' })).toBe(
      'internal_error: Invalid configuration: NODE_URL must be https, or http on a loopback host, in enclave mode',
    )
    expect(failure({ IN_ENCLAVE: 'true', NODE_URL: 'http://10.0.0.7:8545' })).toContain('NODE_URL')
    expect(readConfig({ IN_ENCLAVE: 'true', NODE_URL: 'https://base.example.com' }).chainRpcUrl).toBe('https://base.example.com')
    expect(readConfig({ IN_ENCLAVE: 'true', NODE_URL: 'http://127.0.0.1:18545' }).chainRpcUrl).toBe('http://127.0.0.1:18545')
    // Dev mode keeps accepting any http(s) RPC (anvil on another host, say).
    expect(readConfig({ IN_ENCLAVE: 'false', NODE_URL: 'http://rpc.example.com:8545' }).chainRpcUrl).toBe('http://rpc.example.com:8545')
  })
  it('behavior: binding versions, record cap, DNS suffix and request bounds have defaults and are validated', () => {
    expect(readConfig({})).toMatchObject({
      minAppAuthVersion: 1, minSyncVersion: 1, caDnsSuffix: '', maxConcurrentRequests: 256, requestTimeoutSeconds: 30, nodeNonceRateLimitPerMinute: 1800,
    })
    expect(readConfig({ MIN_APP_AUTH_VERSION: '2', MIN_SYNC_VERSION: '2', CA_DNS_SUFFIX: 'Apps.Example.com.' })).toMatchObject({
      minAppAuthVersion: 2, minSyncVersion: 2, caDnsSuffix: 'apps.example.com',
    })
    expect(failure({ MIN_APP_AUTH_VERSION: '3' })).toContain('MIN_APP_AUTH_VERSION must be 1 or 2')
    expect(failure({ MIN_SYNC_VERSION: 'v2' })).toContain('MIN_SYNC_VERSION')
    expect(failure({ CA_DNS_SUFFIX: '*.example.com' })).toContain('CA_DNS_SUFFIX')
    expect(failure({ CA_DNS_SUFFIX: 'bad_label.com' })).toContain('CA_DNS_SUFFIX')
    expect(failure({ MAX_RECORDS_PER_APP: '0' })).toContain('MAX_RECORDS_PER_APP')
    // /sync fails closed once the peer cache is older than its TTL, and only node_tick refreshes it.
    expect(failure({ KMS_NODE_TICK_SECONDS: '60', PEER_CACHE_TTL_SECONDS: '60' })).toContain('PEER_CACHE_TTL_SECONDS must be greater than KMS_NODE_TICK_SECONDS')
    expect(readConfig({ KMS_NODE_TICK_SECONDS: '1', PEER_CACHE_TTL_SECONDS: '4' }).peerCacheTtlSeconds).toBe(4)
  })
})
