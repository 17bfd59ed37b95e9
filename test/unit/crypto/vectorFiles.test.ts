import { describe, expect, test } from 'vitest'
import protocol from '../../vectors/protocol-5.7.json'
import rfc5869 from '../../vectors/rfc5869-hkdf.json'
import { casesOf, loadVectors } from './_vectors'

/** The kinds the crypto and tee suites consume; a new kind must get a test before it lands here. */
const CONSUMED_KINDS = [
  'master_secret_hash',
  'derive',
  'data_key',
  'sync_key',
  'sync_hmac',
  'record',
  'wallet',
  'app_auth_message',
  'peer_auth_message',
  'response_message',
  'eip191_signature',
  'eip191_recover',
  'p384_public_key',
  'p384_shared_secret',
  'envelope_key',
  'envelope_ciphertext',
  'sealing_key',
  'sealed_master_secret',
]

describe('vector files (STYLE "Tests")', () => {
  test('behavior: every file names its source and has cases', () => {
    expect(loadVectors(protocol).source).toMatch(/^PROTOCOL\.md §5\.7/)
    expect(loadVectors(rfc5869).cases).toHaveLength(3)
  })

  test('behavior: every §5.7 case is of a kind some suite consumes, and every kind has a case', () => {
    const vectors = loadVectors(protocol)
    expect(new Set(vectors.cases.map((entry) => entry.kind))).toEqual(new Set(CONSUMED_KINDS))
    for (const kind of CONSUMED_KINDS) expect(casesOf(vectors, kind).length).toBeGreaterThan(0)
  })

  test('error: the loader refuses a file without source or with empty cases', () => {
    expect(() => loadVectors({ source: 'RFC 0', cases: [] })).toThrowErrorMatchingInlineSnapshot(`[Error: vector file (RFC 0): empty cases]`)
    expect(() => loadVectors({ cases: [{ name: 'x' }] })).toThrowErrorMatchingInlineSnapshot(`[Error: vector file: missing source]`)
    expect(() => casesOf(loadVectors(protocol), 'no_such_kind')).toThrow('no case of kind no_such_kind')
  })
})
