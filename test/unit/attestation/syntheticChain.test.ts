/**
 * ATTESTATION.md §6.4: a synthetic chain in the AWS profile, with chosen nonce, user_data and
 * public_key, signed by fixed keys, plus the certificate-profile cases the real documents
 * cannot reach.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { p384 } from '@noble/curves/nist.js'
import { describe, expect, test } from 'vitest'
import { verifyNitroAttestation, type AttestationErrorCode } from '../../../core/attestation'
import { bytesToBase64, bytesToHex, derBoolean, derOctetString, derOid, derSequence, derSmallInteger, derTlv } from '../../../core/encoding'
import { CborArrayValue, CborMapValue, encodeCbor } from '../../helpers/nitro/cborWriter'
import {
  buildSyntheticChain,
  ECDSA_WITH_SHA256,
  ECDSA_WITH_SHA512,
  extensions,
  p256Point,
  p256Spki,
  signSyntheticDocument,
  syntheticName,
  syntheticPayload,
  syntheticPcrs,
  syntheticSecretKey,
  type CertificateSpec,
  type SyntheticChain,
  type SyntheticChainOptions,
} from '../../helpers/nitro/syntheticChain'
import { outcome } from './_expect'

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0, 250)

function chain(options: Partial<SyntheticChainOptions> = {}): SyntheticChain {
  return buildSyntheticChain({ nowMs: NOW, ...options })
}

function document(
  synthetic: SyntheticChain,
  edit: (payload: CborMapValue) => CborMapValue = (payload) => payload,
  highS = false,
): Uint8Array {
  return signSyntheticDocument(encodeCbor(edit(syntheticPayload(synthetic, NOW))), synthetic.leafKey, highS)
}

async function verdict(synthetic: SyntheticChain, bytes: Uint8Array, at = NOW): Promise<AttestationErrorCode | 'success'> {
  return outcome(() => verifyNitroAttestation(bytes, { at, trustedRoot: synthetic.root }))
}

/** The spec with exactly these extensions. */
function withExtensions(spec: CertificateSpec, list: readonly Uint8Array[]): CertificateSpec {
  return { ...spec, extensions: list }
}

const BASE = chain()

describe('synthetic documents that verify', () => {
  test('behavior: the AWS-shaped document verifies with its chosen nonce, user_data and public_key', async () => {
    const result = await verifyNitroAttestation(document(BASE), {
      at: NOW,
      trustedRoot: BASE.root,
      expectedNonce: Uint8Array.from({ length: 16 }, (_, index) => index),
      maxAgeMs: 0,
    })
    expect(result.moduleId).toBe('i-0123456789abcdef0-enc0123456789abcdef')
    expect(result.timestamp).toBe(NOW)
    expect(new TextDecoder().decode(result.publicKey!)).toBe('synthetic public key')
    expect(new TextDecoder().decode(result.userData!)).toContain('eth_addr')
    expect(result.cabundle).toHaveLength(4)
    expect(bytesToHex(result.pcrs.get(0)!)).toBe('01'.repeat(48))
  })

  test('vector: openssl verifies the synthetic chain (an independent X.509 checker)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nova-synthetic-'))
    try {
      const pem = (ders: readonly Uint8Array[]): string =>
        ders.map((der) => `-----BEGIN CERTIFICATE-----\n${bytesToBase64(der).replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`).join('')
      writeFileSync(join(dir, 'root.pem'), pem([BASE.root]))
      writeFileSync(join(dir, 'intermediates.pem'), pem(BASE.cabundle.slice(1)))
      writeFileSync(join(dir, 'leaf.pem'), pem([BASE.leaf]))
      const args = ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'intermediates.pem')]
      const output = execFileSync('openssl', [...args, '-attime', String(Math.floor(NOW / 1000)), join(dir, 'leaf.pem')], {
        encoding: 'utf8',
        timeout: 10_000,
      })
      expect(output).toContain(': OK')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('behavior: the documents are reproducible (deterministic signatures)', () => {
    expect(bytesToHex(document(chain()))).toBe(bytesToHex(document(BASE)))
  })

  const successes: readonly [string, () => Uint8Array, SyntheticChain?][] = [
    ['an indefinite payload map', () => document(BASE, (payload) => payload.asIndefinite())],
    ['a high-S signature', () => document(BASE, undefined, true)],
    ['32 PCRs', () => document(BASE, (payload) => payload.with('pcrs', syntheticPcrs(32)))],
    [
      'optional keys absent',
      () => document(BASE, (payload) => payload.without('public_key').without('user_data').without('nonce')),
    ],
    ['an unknown key', () => document(BASE, (payload) => payload.with('future_field', new CborArrayValue([1, 'x', null])))],
    [
      'three 1024 B optional fields',
      () =>
        document(BASE, (payload) =>
          ['public_key', 'user_data', 'nonce'].reduce((map, key) => map.with(key, new Uint8Array(1024).fill(1)), payload),
        ),
    ],
    ['empty optional fields', () => document(BASE, (payload) => payload.with('nonce', new Uint8Array(0)))],
    ['an unknown non-critical extension', () => document(chainWithLeaf((s) => withExtensions(s, [...s.extensions, extensions.unknown(false)])))],
    ['a leaf without basicConstraints', () => document(chainWithLeaf((s) => withExtensions(s, [extensions.keyUsage([0])])))],
  ]
  test.each(successes)('behavior: %s', async (_name, build) => {
    expect(await verdict(BASE, build())).toBe('success')
  })

  test('behavior: the root signs the leaf directly (cabundle = [root])', async () => {
    const direct = chain({ pathLens: [] })
    expect(direct.cabundle).toHaveLength(1)
    expect(await verdict(direct, document(direct))).toBe('success')
  })

  test('behavior: a root whose notAfter is in 2060 (GeneralizedTime)', async () => {
    const late = chain({ rootNotAfterS: Date.UTC(2060, 0, 1) / 1000 })
    expect(bytesToHex(late.root)).toContain('180f32303630303130313030303030305a') // 18 0f "20600101000000Z"
    expect(await verdict(late, document(late))).toBe('success')
  })

  test('behavior: optional keys absent come back as null', async () => {
    const bytes = document(BASE, (payload) => payload.without('public_key').without('user_data').without('nonce'))
    const result = await verifyNitroAttestation(bytes, { at: NOW, trustedRoot: BASE.root })
    expect([result.publicKey, result.userData, result.nonce]).toEqual([null, null, null])
  })
})

function chainWithLeaf(edit: (spec: CertificateSpec) => CertificateSpec): SyntheticChain {
  return chain({ edit: { leaf: edit } })
}

function chainWith(role: 'root' | 'regional' | 'zonal' | 'instance', edit: (spec: CertificateSpec) => CertificateSpec): SyntheticChain {
  return chain({ edit: { [role]: edit } })
}

const CA_KEY_USAGE = extensions.keyUsage([0, 5, 6])

const FAILURES: readonly [string, AttestationErrorCode, () => [SyntheticChain, Uint8Array]][] = [
  ['33 PCRs', 'ATTESTATION_PAYLOAD_MALFORMED', () => [BASE, document(BASE, (p) => p.with('pcrs', syntheticPcrs(32).append(32, new Uint8Array(48))))]],
  ['a signed duplicate key', 'ATTESTATION_CBOR_DUPLICATE_KEY', () => [BASE, document(BASE, (p) => p.append('digest', 'SHA384'))]],
  [
    'a signed duplicate PCR index (nested map)',
    'ATTESTATION_CBOR_DUPLICATE_KEY',
    () => [BASE, document(BASE, (p) => p.with('pcrs', syntheticPcrs().append(0, new Uint8Array(48))))],
  ],
  ['a debug-mode document (PCR0–2 zero) without allowDebugMode', 'ATTESTATION_DEBUG_MODE', () => [BASE, document(BASE, (p) => p.with('pcrs', syntheticPcrs(16, true)))]],
  [
    'leaf CA:TRUE',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWithLeaf((s) => withExtensions(s, [extensions.basicConstraints({ ca: true }), extensions.keyUsage([0])]))
      return [c, document(c)]
    },
  ],
  [
    'leaf CA:FALSE with a pathLen',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWithLeaf((s) => withExtensions(s, [extensions.basicConstraints({ ca: false, pathLen: 0 }), extensions.keyUsage([0])]))
      return [c, document(c)]
    },
  ],
  [
    'a CA without keyCertSign',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWith('zonal', (s) => withExtensions(s, [extensions.basicConstraints({ ca: true, pathLen: 1 }), extensions.keyUsage([0, 6])]))
      return [c, document(c)]
    },
  ],
  [
    'a CA without keyUsage',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWith('regional', (s) => withExtensions(s, [extensions.basicConstraints({ ca: true, pathLen: 2 })]))
      return [c, document(c)]
    },
  ],
  [
    'a CA basicConstraints missing',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWith('instance', (s) => withExtensions(s, [CA_KEY_USAGE]))
      return [c, document(c)]
    },
  ],
  [
    'a CA basicConstraints not critical',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWith('zonal', (s) => withExtensions(s, [extensions.basicConstraints({ ca: true, pathLen: 1, critical: false }), CA_KEY_USAGE]))
      return [c, document(c)]
    },
  ],
  [
    'the root without keyCertSign',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWith('root', (s) => withExtensions(s, [extensions.basicConstraints({ ca: true }), extensions.keyUsage([0])]))
      return [c, document(c)]
    },
  ],
  [
    'an extra CA below pathLen 0',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chain({ pathLens: [3, 2, 0, undefined] })
      return [c, document(c)]
    },
  ],
  [
    'leaf keyUsage missing',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWithLeaf((s) => withExtensions(s, [extensions.basicConstraints({ ca: false })]))
      return [c, document(c)]
    },
  ],
  [
    'leaf keyUsage without digitalSignature',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWithLeaf((s) => withExtensions(s, [extensions.basicConstraints({ ca: false }), extensions.keyUsage([1], false)]))
      return [c, document(c)]
    },
  ],
  [
    'an unknown critical extension',
    'ATTESTATION_CHAIN_CONSTRAINTS',
    () => {
      const c = chainWithLeaf((s) => withExtensions(s, [...s.extensions, extensions.unknown(true)]))
      return [c, document(c)]
    },
  ],
  [
    'a P-256 key',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const c = chainWithLeaf((s) => ({ ...s, spki: p256Spki(p256Point()) }))
      return [c, document(c)]
    },
  ],
  [
    'ecdsa-with-SHA256',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const c = chainWithLeaf((s) => ({ ...s, tbsAlgorithm: ECDSA_WITH_SHA256, outerAlgorithm: ECDSA_WITH_SHA256, digest: 'sha256' }))
      return [c, document(c)]
    },
  ],
  [
    'tbs and outer algorithms differ',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const c = chainWith('zonal', (s) => ({ ...s, outerAlgorithm: ECDSA_WITH_SHA512 }))
      return [c, document(c)]
    },
  ],
  [
    'a point off the curve',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const point = p384.getPublicKey(syntheticSecretKey('leaf'), false)
      point[96]! ^= 1
      const c = chainWithLeaf((s) => ({ ...s, spki: derSequence(s.spki.subarray(2, 20), derTlv(0x03, Uint8Array.of(0, ...point))) }))
      return [c, document(c)]
    },
  ],
  [
    'a serial of 22 content bytes',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const c = chainWith('instance', (s) => ({ ...s, serial: derTlv(0x02, new Uint8Array(22).fill(0x11)) }))
      return [c, document(c)]
    },
  ],
  [
    'a zero serial',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const c = chainWithLeaf((s) => ({ ...s, serial: derSmallInteger(0) }))
      return [c, document(c)]
    },
  ],
  [
    'a duplicate extension',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const c = chainWithLeaf((s) => withExtensions(s, [...s.extensions, extensions.keyUsage([0])]))
      return [c, document(c)]
    },
  ],
  [
    'critical FALSE encoded (DER forbids the default)',
    'ATTESTATION_CERT_MALFORMED',
    () => {
      const kuFalse = derSequence(derOid('2.5.29.15'), derBoolean(false), derOctetString(Uint8Array.of(0x03, 0x02, 0x07, 0x80)))
      const c = chainWithLeaf((s) => withExtensions(s, [extensions.basicConstraints({ ca: false }), kuFalse]))
      return [c, document(c)]
    },
  ],
  [
    'an issuer that is not the parent subject',
    'ATTESTATION_CHAIN_BROKEN',
    () => {
      const c = chainWithLeaf((s) => ({ ...s, issuer: syntheticName('someone.else') }))
      return [c, document(c)]
    },
  ],
  [
    'a leaf signed by the wrong key',
    'ATTESTATION_CHAIN_BROKEN',
    () => {
      const c = chainWithLeaf((s) => ({ ...s, issuerKey: syntheticSecretKey('zonal') }))
      return [c, document(c)]
    },
  ],
  [
    'a document signed by another key than the leaf',
    'ATTESTATION_SIGNATURE_INVALID',
    () => [BASE, signSyntheticDocument(encodeCbor(syntheticPayload(BASE, NOW)), syntheticSecretKey('instance'))],
  ],
]

describe('synthetic documents that fail', () => {
  test.each(FAILURES)('error: %s gives %s', async (_name, code, build) => {
    const [synthetic, bytes] = build()
    expect(await verdict(synthetic, bytes)).toBe(code)
  })

  test('error: the same document under the default pin (a forged root) is ROOT_UNTRUSTED', async () => {
    expect(await outcome(() => verifyNitroAttestation(document(BASE), { at: NOW, allowDebugMode: true }))).toBe(
      'ATTESTATION_ROOT_UNTRUSTED',
    )
  })

  test('error: the leaf window is exact: notAfter + 1 ms expires', async () => {
    const notAfterMs = (Math.floor(NOW / 1000) + 3 * 3600) * 1000
    expect(await verdict(BASE, document(BASE), notAfterMs)).toBe('success')
    expect(await verdict(BASE, document(BASE), notAfterMs + 1)).toBe('ATTESTATION_CERT_EXPIRED')
  })
})
