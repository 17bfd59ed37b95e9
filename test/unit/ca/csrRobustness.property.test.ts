/**
 * Parser robustness (DESIGN §5, STYLE "Validation at boundaries"): no `csr` value and no
 * request shape makes the sign_cert pipeline throw anything but a 400 KmsError with one of
 * its fixed messages. Anything else would be a 500.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { signCertRequest } from '../../../core/ca'
import { KmsError } from '../../../core/errors'
import { VALIDITY, base64ToBytes, bytesToBase64, csrPem, pemBody, vectorCa } from './_fixtures'
import { ED25519, P256, P384, Scratch } from './_openssl'

const FIXED_MESSAGES = new Set([
  "Missing 'csr' field",
  "'validity_seconds' must be in range 1..2592000",
  'Invalid CSR: not PEM or base64',
  'Invalid CSR: too large',
  'Invalid CSR: malformed DER',
  'Invalid CSR: version must be 0',
  'Invalid CSR: signature does not verify',
  'Unsupported key type',
  'Unsupported key type: RSA',
  'Unsupported key type: RSA-PSS',
  'Unsupported key type: DSA',
  'Unsupported key type: X25519',
  'Unsupported key type: X448',
  'Unsupported key type: Ed448',
  'Unsupported EC curve',
  'Unsupported EC point encoding',
  'Unsupported EC point: not on the curve',
  'Unsupported Ed25519 key encoding',
  'Unsupported signature algorithm',
])

const ca = vectorCa()

function submit(request: unknown): void {
  signCertRequest({
    request,
    identity: { appId: 1, instanceId: 1, instanceUrl: 'https://a.app-1.example' },
    dnsSuffix: 'example',
    validity: VALIDITY,
    ...ca,
    clock: { nowMs: () => 1_767_225_600_000 },
    random: { bytes: (length) => new Uint8Array(length).fill(1) },
  })
}

/** Succeeds, or fails only with a 400 KmsError and a fixed message. */
function acceptsOrRefuses(request: unknown): void {
  try {
    submit(request)
  } catch (error) {
    expect(error).toBeInstanceOf(KmsError)
    const { status, message } = error as KmsError
    expect(status).toBe(400)
    expect(FIXED_MESSAGES).toContain(message)
  }
}

const scratch = new Scratch()
const valid: Uint8Array[] = []
beforeAll(() => {
  for (const [name, keyArgs] of [['p256', P256], ['p384', P384], ['ed25519', ED25519]] as const) {
    valid.push(base64ToBytes(pemBody(scratch.csr(`property-${name}`, keyArgs, ['-addext', 'subjectAltName=DNS:x.example']))))
  }
})
afterAll(() => scratch.remove())

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
)

function mutate(der: Uint8Array, change: Mutation): Uint8Array {
  const at = change.at % der.length
  switch (change.kind) {
    case 'flip': {
      const out = der.slice()
      out[at]! ^= 1 << change.bit
      return out
    }
    case 'set': {
      const out = der.slice()
      out[at] = change.value
      return out
    }
    case 'insert':
      return Uint8Array.from([...der.subarray(0, at), ...change.bytes, ...der.subarray(at)])
    case 'delete':
      return Uint8Array.from([...der.subarray(0, at), ...der.subarray(at + change.count)])
    case 'truncate':
      return der.slice(0, at)
  }
}

describe('sign_cert robustness', () => {
  test('property: random bytes as base64 or PEM are refused with a 400', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, asPem) => {
        acceptsOrRefuses({ csr: asPem ? csrPem(bytes) : bytesToBase64(bytes) })
      }),
      { numRuns: 500 },
    )
  })

  test('property: random strings are refused with a 400', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300, unit: 'binary' }),
          fc.string({ maxLength: 300, unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_\n\r \t'.split('')) }),
          fc.string({ maxLength: 300 }).map((body) => `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`),
        ),
        (text) => acceptsOrRefuses({ csr: text }),
      ),
      { numRuns: 500 },
    )
  })

  test('property: mutated valid CSRs are accepted or refused with a 400, never anything else', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (which, changes, asPem) => {
          const der = changes.reduce((bytes, change) => (bytes.length === 0 ? bytes : mutate(bytes, change)), valid[which]!)
          acceptsOrRefuses({ csr: asPem ? csrPem(der) : bytesToBase64(der) })
        },
      ),
      { numRuns: 1000 },
    )
  })

  test('property: any JSON value as the request, the csr or validity_seconds gives a 400 or a leaf', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (request, field) => {
        acceptsOrRefuses(request)
        acceptsOrRefuses({ csr: field })
        acceptsOrRefuses({ csr: bytesToBase64(valid[0]!), validity_seconds: field })
      }),
      { numRuns: 300 },
    )
  })

  test('behavior: the unmutated CSRs are accepted (the properties start from valid input)', () => {
    for (const der of valid) expect(() => submit({ csr: bytesToBase64(der) })).not.toThrow()
  })
})
