/**
 * fast-check arbitraries for hostile inner payloads (PROTOCOL §2.4–§2.6, §8.4) and hostile
 * `/sync` records (§4.3, §6.7). Sizes are chosen around the limits the fuzz node is
 * configured with (`FUZZ_LIMITS`), which are small so that "near the limit" stays cheap.
 *
 * @module
 */
import fc from 'fast-check'
import { bytesToBase64 } from '../../core/encoding'
import { algorithm, buildCsrDer, ecSpki, ed25519Signer, OID, p256Signer } from '../unit/ca/_csrBuilder'
import { derOid } from '../../core/encoding'
import { Dup, Raw, toWellFormedUtf16, type J } from './_json'

/** The fuzz node's limits (§11); the arbitraries aim at their edges. */
export const FUZZ_LIMITS = {
  MAX_KV_VALUE_SIZE_BYTES: 4096,
  MAX_APP_STORAGE_BYTES: 65_536,
  MAX_RECORDS_PER_APP: 48,
  MAX_TOMBSTONES_PER_APP: 16,
  MAX_REQUEST_BODY_BYTES: 262_144,
  CA_MAX_VALIDITY_SECONDS: 2_592_000,
  MAX_CLOCK_SKEW_MS: 15_000,
} as const

// ---------------------------------------------------------------------------------------
// Strings and values
// ---------------------------------------------------------------------------------------

/** Characters of every UTF-8 width, lone surrogates, controls and URL/form specials. */
const SPECIAL_CHARS = [
  'a', 'Z', '0', ' ', '\t', '\n', '\r', '\u0000', '\u0001', '\u001f', '\u007f', '"', '\\', '/', '%', '+', '&', '=', '?', '#', ':', '.', '*',
  'é', 'ÿ', 'Ā', '€', '\u2028', '\ufeff', '\uffff', '😀', '\ud800', '\udbff', '\udc00', '\udfff', '\u0301',
] as const

const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code))
const specialUnit = fc.constantFrom(...SPECIAL_CHARS)

/** Short strings of any UTF-16 units, lone surrogates included. */
export const wildString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.oneof(specialUnit, anyUnit), maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ maxLength: 16 }),
)

/** Characters whose UTF-8 width is 1, 2, 3 or 4 bytes (a lone surrogate: 3, as U+FFFD). */
const WIDTH_UNITS = [
  { unit: 'a', bytes: 1 },
  { unit: 'é', bytes: 2 },
  { unit: '€', bytes: 3 },
  { unit: '😀', bytes: 4 },
  { unit: '\ud800', bytes: 3 },
] as const

/** A string of about `bytes` UTF-8 bytes (exactly, with a 1-byte filler), of one width. */
export function sizedString(bytes: number, width: (typeof WIDTH_UNITS)[number]): string {
  const count = Math.floor(bytes / width.bytes)
  return width.unit.repeat(count) + 'a'.repeat(bytes - count * width.bytes)
}

/** Strings whose UTF-8 size is near 1024 (the key and derive-info limit) or far above. */
export const nearLimitString: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1018, max: 1030 }), fc.constantFrom(0, 1, 511, 512, 513, 1023, 1024, 1025, 2048, 4097)),
    fc.constantFrom(...WIDTH_UNITS),
  )
  .map(([bytes, width]) => sizedString(bytes, width))

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: wildString, weight: 6 },
  { arbitrary: nearLimitString, weight: 2 },
  {
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '   \t\n',
      'NaN',
      'Infinity',
      '-Infinity',
      '-0',
      '1e309',
      '0x20',
      ' 32',
      '32 ',
      '+32',
      '32n',
      '٣٢',
      '３２',
      '00032',
      '99999999999999999999',
      'null',
      'true',
      '__proto__',
      'constructor',
      'toString',
      '%',
      '%zz',
      '%e9',
      '%ed%a0%80',
      '%C0%AF',
      '\ud800',
      'a\udfffb',
      '\udc00\ud800',
    ),
    weight: 2,
  },
)

/** Number tokens the canonical writer never produces. */
export const rawNumber: fc.Arbitrary<Raw> = fc
  .constantFrom(
    '1e309',
    '-1e309',
    '-0',
    '-0.0',
    '0.0',
    '1.5',
    '32.0',
    '3.2e1',
    '1e2',
    '1E3',
    '1e-7',
    '0.1e1',
    '9007199254740992',
    '9007199254740993',
    '-9007199254740993',
    '18446744073709551616',
    '123456789012345678901234567890',
    '4294967296',
    '4294967297',
    '1024.0000000000001',
    '1023.9999999999999',
  )
  .map((text) => new Raw(text))

export const interestingInteger: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, 1, -1, 2, 31, 32, 33, 1023, 1024, 1025, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, -(2 ** 53 - 1)),
)

/** Deeply nested arrays or objects, as raw text (the canonical writer stops at 64). */
export const deepNesting: fc.Arbitrary<Raw> = fc
  .tuple(fc.constantFrom(65, 100, 1000, 5000), fc.boolean())
  .map(([depth, arrays]) => new Raw(arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth)))

const leafValue: fc.Arbitrary<J> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  interestingInteger,
  fc.double(),
  rawNumber,
  hostileString,
)

/** Any JSON value, hostile at every level, including duplicates and deep nesting. */
export const hostileValue: fc.Arbitrary<J> = fc.letrec<{ value: J }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: leafValue, weight: 8 },
    { arbitrary: fc.array(tie('value'), { maxLength: 4 }), weight: 1 },
    { arbitrary: fc.dictionary(wildString, tie('value'), { maxKeys: 4 }), weight: 1 },
    { arbitrary: fc.array(fc.tuple(fc.constantFrom('a', 'path', 'key', '__proto__'), tie('value')), { maxLength: 3 }).map((entries) => new Dup(entries)), weight: 1 },
    { arbitrary: deepNesting, weight: 1 },
  ),
})).value

/** A field that is absent (`undefined`), hostile, or one of the targeted values. */
function field(targeted: fc.Arbitrary<J>, absentWeight = 2): fc.Arbitrary<J | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: absentWeight }, { arbitrary: targeted, weight: 5 }, { arbitrary: hostileValue, weight: 3 })
}

/** Extra members of an inner request. */
const extraFields: fc.Arbitrary<Record<string, J>> = fc.oneof(
  { arbitrary: fc.constant({}), weight: 4 },
  { arbitrary: fc.dictionary(wildString, hostileValue, { maxKeys: 3 }), weight: 1 },
)

/** An inner payload that is not an object, or not JSON at all. */
export const notAnObject: fc.Arbitrary<J> = fc.oneof(
  hostileValue.filter((value) => value === null || typeof value !== 'object' || Array.isArray(value)),
  fc.constantFrom(new Raw(''), new Raw('{'), new Raw('{"path":'), new Raw('{"path":"a",}'), new Raw('not json'), new Raw("{'path':'a'}"), new Raw('{"path":"a"} trailing'), new Raw('\ufeff{"path":"a"}'), new Raw('[]'), new Raw('"x"')),
)

/** An object built from optional named fields plus extras; `undefined` members are dropped by `jsonText`. */
function innerObject(fields: Record<string, fc.Arbitrary<J | undefined>>): fc.Arbitrary<J> {
  return fc.tuple(fc.record(fields), extraFields).map(([named, extra]) => {
    const out: Record<string, J | undefined> = {}
    for (const [key, value] of Object.entries(extra)) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
    for (const [key, value] of Object.entries(named)) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
    return out
  })
}

// ---------------------------------------------------------------------------------------
// /kms/* cases
// ---------------------------------------------------------------------------------------

export type KmsMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** One authenticated request: method, path (with query), and the inner payload, if any. */
export interface KmsCase {
  route: 'derive' | 'put' | 'delete' | 'get_query' | 'get_path' | 'list' | 'sign_cert'
  method: KmsMethod
  path: string
  inner?: J
}

const shortPath = fc.oneof(fc.constantFrom('wallet/root', 'a', 'x/y/z', 'signing', '  padded  '), fc.string({ minLength: 1, maxLength: 12 }))

/** `path` and `context` whose `path:context` lands within a few bytes of 1024 (L1). */
const derivePathContext: fc.Arbitrary<{ path: J | undefined; context: J | undefined }> = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 1030 }), fc.integer({ min: -8, max: 8 }), fc.constantFrom(...WIDTH_UNITS), fc.constantFrom(...WIDTH_UNITS), fc.boolean())
      .map(([pathBytes, delta, pathWidth, contextWidth, emptyContext]) => {
        const path = sizedString(pathBytes, pathWidth)
        const contextBytes = Math.max(0, 1024 - pathBytes - 1 + delta)
        return { path, context: emptyContext ? '' : sizedString(contextBytes, contextWidth) }
      }),
    weight: 3,
  },
  { arbitrary: fc.record({ path: field(fc.oneof(shortPath, hostileString), 1), context: field(fc.oneof(fc.constant(''), hostileString)) }), weight: 5 },
  { arbitrary: fc.record({ path: field(nearLimitString, 0), context: field(nearLimitString) }), weight: 1 },
)

const deriveLength: fc.Arbitrary<J | undefined> = field(
  fc.oneof(
    fc.constantFrom(0, 1, 16, 32, 64, 1023, 1024, 1025, -1, 2 ** 32, 2 ** 53 - 1, '32', '0032', '1024', '1025', '0', '', ' 32', '1e3', '32.0', true, false, null),
    rawNumber,
    interestingInteger,
  ),
)

export const deriveCase: fc.Arbitrary<KmsCase> = fc
  .oneof(
    { arbitrary: fc.tuple(derivePathContext, deriveLength, extraFields).map(([pc, length, extra]) => ({ ...extra, path: pc.path, context: pc.context, length }) as J), weight: 9 },
    { arbitrary: notAnObject, weight: 1 },
  )
  .map((inner) => ({ route: 'derive', method: 'POST', path: '/kms/derive', inner }))

/** The keys PUT, DELETE and GET share, so that some operations find a record. */
export const KEY_POOL = ['k0', 'k1', 'k2', 'k3', 'a b', 'a+b', 'a/b', '%41', 'é', '😀', '__proto__', 'constructor', sizedString(1024, WIDTH_UNITS[0]), sizedString(1023, WIDTH_UNITS[2])] as const

const poolKey = fc.constantFrom(...KEY_POOL)
const dataKey: fc.Arbitrary<J | undefined> = field(fc.oneof({ arbitrary: poolKey, weight: 3 }, { arbitrary: hostileString, weight: 2 }, { arbitrary: nearLimitString, weight: 1 }), 1)

/** Plaintext sizes around MAX_KV_VALUE_SIZE_BYTES, mostly small, a few far above (413). */
const valueBytes = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 64 }), weight: 10 },
  { arbitrary: fc.integer({ min: FUZZ_LIMITS.MAX_KV_VALUE_SIZE_BYTES - 2, max: FUZZ_LIMITS.MAX_KV_VALUE_SIZE_BYTES + 2 }), weight: 3 },
  { arbitrary: fc.integer({ min: 65, max: FUZZ_LIMITS.MAX_KV_VALUE_SIZE_BYTES }), weight: 2 },
  // Over the body limit once sealed (base64, then hex): 413 before anything is decrypted.
  { arbitrary: fc.constantFrom(60_000, 100_000, 1_048_577), weight: 1 },
)

const base64Value: fc.Arbitrary<J | undefined> = field(
  fc.oneof(
    { arbitrary: fc.tuple(valueBytes, fc.integer({ min: 0, max: 255 })).map(([length, fill]) => bytesToBase64(new Uint8Array(length).fill(fill))), weight: 6 },
    {
      // Invalid base64 of every kind §0 names: whitespace, padding, trailing bits, alphabet.
      arbitrary: fc.constantFrom('YQ', 'YQ=', 'YQ===', 'YR==', 'Y Q==', 'YQ==\n', ' YQ==', '-_-_', 'YQ==YQ==', '====', 'A', 'AB=C', '\u00ffYQ==', 'YQ%3D%3D'),
      weight: 2,
    },
    { arbitrary: hostileString, weight: 1 },
  ),
  1,
)

const ttlMs: fc.Arbitrary<J | undefined> = field(
  fc.oneof(fc.constantFrom(0, 1, 1000, 60_000, -1, 2 ** 53 - 1, null, '100', true, 2 ** 32), rawNumber, interestingInteger),
)

export const putCase: fc.Arbitrary<KmsCase> = fc
  .oneof({ arbitrary: innerObject({ key: dataKey, value: base64Value, ttl_ms: ttlMs }), weight: 9 }, { arbitrary: notAnObject, weight: 1 })
  .map((inner) => ({ route: 'put', method: 'PUT', path: '/kms/data', inner }))

export const deleteCase: fc.Arbitrary<KmsCase> = fc
  .oneof({ arbitrary: innerObject({ key: dataKey }), weight: 9 }, { arbitrary: notAnObject, weight: 1 })
  .map((inner) => ({ route: 'delete', method: 'DELETE', path: '/kms/data', inner }))

/** What goes after `/kms/data/` or `?key=`: form-encoded keys, raw specials, bad escapes. */
const urlKeyText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: poolKey.map((key) => encodeFormComponent(key)), weight: 3 },
  { arbitrary: poolKey.map((key) => encodeURIComponent(key)), weight: 2 },
  { arbitrary: poolKey, weight: 1 },
  {
    arbitrary: fc.constantFrom(
      '',
      '%',
      '%2',
      '%zz',
      '%%',
      '%e9',
      '%ed%a0%80',
      '%f0%9f%98',
      '%C0%AF',
      '%00',
      '%2F',
      '%2f%2F',
      '%2B',
      '+',
      '++',
      'a+b',
      'a%20b',
      'a/b/c',
      '//',
      '.',
      '..',
      '%2e%2e',
      '../derive',
      'a?b',
      'a#b',
      'a;b',
      '%3Fkey%3D1',
      '\\',
      '%5C',
      '~',
      '%7E',
      'key=a&key=b',
    ),
    weight: 3,
  },
  { arbitrary: wildString.map((text) => encodeURIComponent(toWellFormedUtf16(text))), weight: 2 },
  { arbitrary: fc.string({ unit: fc.constantFrom('a', '%', '+', '/', '2', 'F', 'e', '9', 'z', '?', '&', '=', '#'), maxLength: 16 }), weight: 3 },
  { arbitrary: fc.tuple(fc.integer({ min: 1020, max: 1030 }), fc.constantFrom('a', '%41', '%C3%A9', '+')).map(([count, unit]) => unit.repeat(Math.ceil(count / (unit === '%C3%A9' ? 2 : 1)))), weight: 1 },
)

/** `application/x-www-form-urlencoded` encoding, as the runtime's client sends keys (RUNTIME.md §1). */
function encodeFormComponent(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, '+')
}

export const getQueryCase: fc.Arbitrary<KmsCase> = fc
  .oneof(
    { arbitrary: urlKeyText.map((text) => `?key=${text}`), weight: 8 },
    { arbitrary: fc.constantFrom('?key', '?key=', '?KEY=k0', '?key=k0&key=k1', '?=x&key=k0', '?key=k0&', '?&&key=k1', '?key[]=k0', '?%6Bey=k0', '?', '?key=k0#frag'), weight: 2 },
  )
  .map((query) => ({ route: 'get_query', method: 'GET', path: `/kms/data${query}` }))

export const getPathCase: fc.Arbitrary<KmsCase> = fc
  .tuple(urlKeyText, fc.oneof({ arbitrary: fc.constant(''), weight: 5 }, { arbitrary: fc.constantFrom('?key=k0', '?x=1', '?', '#f'), weight: 1 }))
  .map(([text, suffix]) => ({ route: 'get_path', method: 'GET', path: `/kms/data/${text}${suffix}` }))

export const listCase: fc.Arbitrary<KmsCase> = fc
  .constantFrom('/kms/data', '/kms/data?', '/kms/data?x=1', '/kms/data?keys=k0', '/kms/data#x')
  .map((path) => ({ route: 'list', method: 'GET', path }))

// ---------------------------------------------------------------------------------------
// sign_cert cases
// ---------------------------------------------------------------------------------------

/** Real CSRs (RFC 2986), hand-built: P-256, P-256 with high-S, Ed25519; and one RSA-looking key type. */
function realCsrs(): Uint8Array[] {
  const p256 = p256Signer()
  const highS = p256Signer({ highS: true })
  const ed = ed25519Signer()
  return [
    buildCsrDer({ spki: ecSpki(p256.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: p256.sign }),
    buildCsrDer({ spki: ecSpki(highS.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: highS.sign }),
    buildCsrDer({
      spki: new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, ...ed.publicKey]),
      signatureAlgorithm: algorithm(OID.ed25519),
      sign: ed.sign,
    }),
    // The P-256 key with SHA-1: an accepted key type with a refused algorithm.
    buildCsrDer({ spki: ecSpki(p256.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha1), sign: p256.sign }),
    // The curve parameter of another curve (secp256k1), signed anyway.
    buildCsrDer({ spki: ecSpki(p256.publicKey, derOid('1.3.132.0.10')), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: p256.sign }),
  ]
}

export const REAL_CSRS = realCsrs()

/** `depth` SEQUENCEs inside each other: with long-form definite lengths, or indefinite (BER, refused by DER). */
function nestedDer(depth: number, definite: boolean): Uint8Array {
  let inner = new Uint8Array([0x05, 0x00])
  for (let level = 0; level < depth; level++) {
    const length = inner.length
    const head = definite ? [0x30, 0x82, length >> 8, length & 0xff] : [0x30, 0x80]
    const tail = definite ? [] : [0x00, 0x00]
    const next = new Uint8Array(head.length + length + tail.length)
    next.set(head)
    next.set(inner, head.length)
    next.set(tail, head.length + length)
    inner = next
    if (inner.length > 8000) break
  }
  return inner
}

export function pem(label: string, base64: string, lineLength = 64, eol = '\n'): string {
  const lines = base64.match(new RegExp(`.{1,${lineLength}}`, 'g')) ?? []
  return `-----BEGIN ${label}-----${eol}${lines.join(eol)}${eol}-----END ${label}-----${eol}`
}

const csrDer = fc.constantFrom(...REAL_CSRS.map((_, index) => index))

/** A CSR as text: valid, truncated, corrupted, re-wrapped, random, or not a string at all. */
const csrField: fc.Arbitrary<J | undefined> = field(
  fc.oneof(
    { arbitrary: csrDer.map((index) => pem('CERTIFICATE REQUEST', bytesToBase64(REAL_CSRS[index]!))), weight: 6 },
    { arbitrary: csrDer.map((index) => bytesToBase64(REAL_CSRS[index]!)), weight: 1 },
    { arbitrary: csrDer.map((index) => pem('NEW CERTIFICATE REQUEST', bytesToBase64(REAL_CSRS[index]!), 76, '\r\n')), weight: 1 },
    {
      arbitrary: fc.tuple(csrDer, fc.nat(), fc.boolean()).map(([index, cut, wrap]) => {
        const der = REAL_CSRS[index]!
        const text = bytesToBase64(der.subarray(0, cut % der.length))
        return wrap ? pem('CERTIFICATE REQUEST', text) : text
      }),
      weight: 4,
    },
    {
      arbitrary: fc.tuple(csrDer, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([index, at, mask]) => {
        const der = REAL_CSRS[index]!.slice()
        der[at % der.length]! ^= mask
        return pem('CERTIFICATE REQUEST', bytesToBase64(der))
      }),
      weight: 4,
    },
    {
      arbitrary: fc.tuple(csrDer, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([index, tail]) => bytesToBase64(new Uint8Array([...REAL_CSRS[index]!, ...tail]))),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(csrDer, fc.constantFrom('CERTIFICATE', 'PUBLIC KEY', 'X509 CRL', '', 'CERTIFICATE REQUEST ')).map(([index, label]) => pem(label, bytesToBase64(REAL_CSRS[index]!))),
      weight: 1,
    },
    {
      arbitrary: csrDer.map((index) => {
        const body = bytesToBase64(REAL_CSRS[index]!)
        return `junk before\n${pem('CERTIFICATE REQUEST', body)}junk after`
      }),
      weight: 1,
    },
    { arbitrary: csrDer.map((index) => pem('CERTIFICATE REQUEST', bytesToBase64(REAL_CSRS[index]!)).replace(/\n/g, '\n ')), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => pem('CERTIFICATE REQUEST', bytesToBase64(bytes))), weight: 2 },
    {
      // DER-looking prefixes with random contents and long-form lengths.
      arbitrary: fc.tuple(fc.constantFrom([0x30, 0x82, 0x01, 0x00], [0x30, 0x84, 0xff, 0xff, 0xff, 0xff], [0x30, 0x80], [0x30, 0x81, 0x7f], [0x30, 0x00]), fc.uint8Array({ maxLength: 300 })).map(([head, rest]) => bytesToBase64(new Uint8Array([...head, ...rest]))),
      weight: 2,
    },
    { arbitrary: fc.constantFrom(9000, 8193, 8192).map((length) => bytesToBase64(new Uint8Array(length).fill(0x30))), weight: 1 },
    // SEQUENCEs nested about 2000 deep within 8192 bytes, definite and indefinite lengths.
    { arbitrary: fc.constantFrom(nestedDer(2000, true), nestedDer(2000, false), nestedDer(120, true)).map((der) => bytesToBase64(der)), weight: 1 },
    { arbitrary: hostileString, weight: 2 },
  ),
  1,
)

const validitySeconds: fc.Arbitrary<J | undefined> = field(
  fc.oneof(
    fc.constantFrom(0, 1, 60, 604_800, FUZZ_LIMITS.CA_MAX_VALIDITY_SECONDS, FUZZ_LIMITS.CA_MAX_VALIDITY_SECONDS + 1, -1, 2 ** 31, 2 ** 53 - 1, '3600', null, true, ''),
    rawNumber,
    interestingInteger,
  ),
)

export const signCertCase: fc.Arbitrary<KmsCase> = fc
  .oneof({ arbitrary: innerObject({ csr: csrField, validity_seconds: validitySeconds }), weight: 9 }, { arbitrary: notAnObject, weight: 1 })
  .map((inner) => ({ route: 'sign_cert', method: 'POST', path: '/kms/sign_cert', inner }))

// ---------------------------------------------------------------------------------------
// /sync records
// ---------------------------------------------------------------------------------------

/** What a record's `value` is made of; `ciphertext` values are sealed at push time. */
export type ValueSpec =
  | { ciphertext: 'own_app'; plaintextBytes: number; hexCase: 'lower' | 'upper' | '0x' }
  | { ciphertext: 'other_app'; plaintextBytes: number }
  | { ciphertext: 'random'; bytes: number }
  | { ciphertext: 'truncated'; plaintextBytes: number; cut: number }
  | { json: J | undefined }

/** `updated_at_ms` relative to the time of the push, or a literal value. */
export type TimeSpec = { relativeMs: number } | { json: J | undefined }

/** Which canonical wallets a clock names: the requester's, the node's, or strangers'. */
export type WalletRef = 'peer' | 'node' | 'stranger'

export type VersionSpec = { entries: readonly (readonly [WalletRef | { key: string }, J])[] } | { many: number } | { json: J | undefined }

export interface RecordSpec {
  key: J | undefined
  value: ValueSpec
  version: VersionSpec
  updatedAt: TimeSpec
  tombstone: J | undefined
  ttl: J | undefined
  extra: Record<string, J>
}

/** An app group: the fuzz app's id, another valid id, or a name §6.7 refuses. */
export type AppGroupName = { app: 'fuzz' } | { app: 'other'; id: number } | { name: string }

export interface DeltaSpec {
  groups: readonly { name: AppGroupName; records: readonly RecordSpec[] | { json: J } }[]
  /** Replaces `data` entirely (not an object, for instance). */
  dataOverride?: J
}

export const SYNC_KEY_POOL = ['k0', 'k1', 'k2', 'sync-0', 'sync-1', 'sync-2', 'sync-3', 'a b', 'é', '__proto__', 'hasOwnProperty'] as const

const syncKey: fc.Arbitrary<J | undefined> = fc.oneof(
  { arbitrary: fc.constantFrom(...SYNC_KEY_POOL), weight: 6 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }), weight: 2 },
  { arbitrary: fc.constantFrom('\ud800', 'a\udfff', '\udc00\ud800', sizedString(1024, WIDTH_UNITS[0]), sizedString(1025, WIDTH_UNITS[0]), sizedString(1023, WIDTH_UNITS[1]), sizedString(1026, WIDTH_UNITS[2]), '', 'Ā'.repeat(600)), weight: 2 },
  { arbitrary: hostileValue, weight: 1 },
  { arbitrary: fc.constant(undefined), weight: 1 },
)

const valueSpec: fc.Arbitrary<ValueSpec> = fc.oneof(
  {
    arbitrary: fc.record({
      ciphertext: fc.constant('own_app' as const),
      plaintextBytes: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 48 }), weight: 20 },
        { arbitrary: fc.constantFrom(FUZZ_LIMITS.MAX_KV_VALUE_SIZE_BYTES, FUZZ_LIMITS.MAX_KV_VALUE_SIZE_BYTES + 1), weight: 1 },
      ),
      hexCase: fc.constantFrom('lower' as const, 'lower' as const, 'upper' as const, '0x' as const),
    }),
    weight: 10,
  },
  { arbitrary: fc.record({ ciphertext: fc.constant('other_app' as const), plaintextBytes: fc.integer({ min: 0, max: 16 }) }), weight: 1 },
  { arbitrary: fc.record({ ciphertext: fc.constant('random' as const), bytes: fc.constantFrom(0, 1, 27, 28, 29, 44, 100) }), weight: 1 },
  { arbitrary: fc.record({ ciphertext: fc.constant('truncated' as const), plaintextBytes: fc.integer({ min: 0, max: 16 }), cut: fc.integer({ min: 1, max: 30 }) }), weight: 1 },
  {
    arbitrary: fc.record({
      json: fc.oneof(
        fc.constant(undefined),
        fc.constant(null),
        fc.constantFrom('zz', 'abc', '0x', '0X', 'g'.repeat(56), '00'.repeat(27), '00'.repeat(28), ' '.repeat(56), '00'.repeat(FUZZ_LIMITS.MAX_KV_VALUE_SIZE_BYTES + 29)),
        hostileValue,
      ),
    }),
    weight: 2,
  },
)

const clockEntry: fc.Arbitrary<J> = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 20 }), weight: 8 },
  { arbitrary: fc.constantFrom(0, -1, 2 ** 32, 2 ** 32 - 1, 2 ** 32 + 1, 2 ** 53 - 1, '1', null, true, 1.5), weight: 3 },
  { arbitrary: rawNumber, weight: 1 },
  { arbitrary: hostileValue, weight: 1 },
)

const walletKeyRef: fc.Arbitrary<WalletRef | { key: string }> = fc.oneof(
  { arbitrary: fc.constantFrom<WalletRef>('peer', 'node', 'stranger'), weight: 8 },
  {
    arbitrary: fc
      .constantFrom(
        '0xABCDEF0123456789ABCDEF0123456789ABCDEF01',
        'abcdef0123456789abcdef0123456789abcdef01',
        '0Xabcdef0123456789abcdef0123456789abcdef01',
        '0xabcdef0123456789abcdef0123456789abcdef0',
        '0xabcdef0123456789abcdef0123456789abcdef012',
        ' 0xabcdef0123456789abcdef0123456789abcdef01',
        '0xgbcdef0123456789abcdef0123456789abcdef01',
        '',
        '__proto__',
        '\ud800',
      )
      .map((key) => ({ key })),
    weight: 2,
  },
)

const versionSpec: fc.Arbitrary<VersionSpec> = fc.oneof(
  { arbitrary: fc.record({ entries: fc.array(fc.tuple(walletKeyRef, clockEntry), { minLength: 1, maxLength: 3 }) }), weight: 40 },
  // More entries than the namespace could be charged for (§6.7), or just many.
  { arbitrary: fc.record({ many: fc.constantFrom(40, 505, 513, 1000) }), weight: 1 },
  { arbitrary: fc.record({ json: fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant([]), fc.constant({}), hostileValue) }), weight: 4 },
)

const timeSpec: fc.Arbitrary<TimeSpec> = fc.oneof(
  {
    arbitrary: fc.record({
      relativeMs: fc.oneof(
        fc.integer({ min: -60_000, max: 5_000 }),
        fc.constantFrom(-86_400_001, 0, FUZZ_LIMITS.MAX_CLOCK_SKEW_MS - 1000, FUZZ_LIMITS.MAX_CLOCK_SKEW_MS + 5000, 3_600_000, 10 * 365 * 86_400_000),
      ),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ json: fc.oneof(fc.constantFrom<J | undefined>(undefined, 0, -1, 1.5, -0.5, 2 ** 53 - 1, '1700000000000', null, true), rawNumber, hostileValue) }), weight: 3 },
)

const tombstoneField: fc.Arbitrary<J | undefined> = fc.oneof(
  { arbitrary: fc.constantFrom<J | undefined>(undefined, false, true), weight: 8 },
  { arbitrary: fc.constantFrom<J>('true', 1, 0, null, 'false', []), weight: 1 },
  { arbitrary: hostileValue, weight: 1 },
)

const ttlField: fc.Arbitrary<J | undefined> = fc.oneof(
  { arbitrary: fc.constantFrom<J | undefined>(undefined, 0, 0, 1, 1000, 60_000), weight: 8 },
  { arbitrary: fc.constantFrom<J>(-1, 1.5, 2 ** 53 - 1, null, '5', 2 ** 32 + 1), weight: 2 },
  { arbitrary: rawNumber, weight: 1 },
  { arbitrary: hostileValue, weight: 1 },
)

const recordExtra: fc.Arbitrary<Record<string, J>> = fc.oneof(
  { arbitrary: fc.constant({}), weight: 6 },
  { arbitrary: fc.dictionary(fc.oneof(wildString, fc.constantFrom('app_id', 'ciphertext', '__proto__', 'clock', 'updatedAtMs')), hostileValue, { maxKeys: 3 }), weight: 1 },
  { arbitrary: deepNesting.map((raw) => ({ nested: raw })), weight: 1 },
)

const hostileRecordSpec: fc.Arbitrary<RecordSpec> = fc.record({
  key: syncKey,
  value: valueSpec,
  version: versionSpec,
  updatedAt: timeSpec,
  tombstone: tombstoneField,
  ttl: ttlField,
  extra: recordExtra,
})

/** A record that passes §6.7, so that merges (§6.6), LWW ties and evictions (§6.4) happen too. */
const honestRecordSpec: fc.Arbitrary<RecordSpec> = fc.record({
  key: fc.constantFrom(...SYNC_KEY_POOL),
  value: fc.record({ ciphertext: fc.constant('own_app' as const), plaintextBytes: fc.integer({ min: 0, max: 48 }), hexCase: fc.constant('lower' as const) }),
  version: fc.record({ entries: fc.array(fc.tuple(fc.constantFrom<WalletRef>('peer', 'node', 'stranger'), fc.integer({ min: 1, max: 12 })), { minLength: 1, maxLength: 3 }) }),
  updatedAt: fc.record({ relativeMs: fc.integer({ min: -60_000, max: 1_000 }) }),
  tombstone: fc.constantFrom<J | undefined>(undefined, false, false, true),
  ttl: fc.constantFrom<J | undefined>(undefined, 0, 0, 60_000),
  extra: fc.constant({}),
})

export const recordSpec: fc.Arbitrary<RecordSpec> = fc.oneof({ arbitrary: honestRecordSpec, weight: 2 }, { arbitrary: hostileRecordSpec, weight: 3 })

const groupName: fc.Arbitrary<AppGroupName> = fc.oneof(
  { arbitrary: fc.constant({ app: 'fuzz' as const }), weight: 12 },
  { arbitrary: fc.constantFrom(7, 424_242, 2 ** 53 - 1).map((id) => ({ app: 'other' as const, id })), weight: 1 },
  {
    arbitrary: fc
      .constantFrom('0', '-1', '01', '1.5', '1e3', 'abc', '', ' 1', '1 ', '+1', '99999999999999999999', '9007199254740993', '\ud800', '__proto__', '٣')
      .map((name) => ({ name })),
    weight: 2,
  },
)

export const deltaSpec: fc.Arbitrary<DeltaSpec> = fc.oneof(
  {
    arbitrary: fc.record({
      groups: fc.array(
        fc.record({
          name: groupName,
          records: fc.oneof(
            { arbitrary: fc.array(recordSpec, { minLength: 1, maxLength: 6 }), weight: 20 },
            // More records than the namespace holds (MAX_RECORDS_PER_APP): eviction by sync.
            { arbitrary: fc.array(recordSpec, { minLength: 40, maxLength: 70 }), weight: 1 },
            { arbitrary: fc.record({ json: fc.oneof(fc.constant<J>({}), fc.constant<J>(null), fc.constant<J>('records'), hostileValue.filter((value) => !Array.isArray(value))) }), weight: 1 },
          ),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    weight: 20,
  },
  { arbitrary: fc.record({ groups: fc.constant([]), dataOverride: fc.oneof(fc.constant<J>(null), fc.constant<J>([]), fc.constant<J>('data'), fc.constant<J>({}), hostileValue) }), weight: 1 },
)

// ---------------------------------------------------------------------------------------
// Hostile envelopes under valid PoP (§5.6)
// ---------------------------------------------------------------------------------------

/** How one envelope field is spelled: as sealed, re-cased, prefixed, cut, or replaced. */
export type HexFieldSpec =
  | { as: 'sealed' }
  | { as: 'upper' }
  | { as: '0x' }
  | { as: 'truncated'; bytes: number }
  | { as: 'extended'; bytes: number }
  | { as: 'flipped'; at: number; mask: number }
  | { as: 'json'; value: J | undefined }

export interface EnvelopeSpec {
  route: 'envelope'
  method: 'POST' | 'PUT' | 'DELETE'
  path: '/kms/derive' | '/kms/data' | '/kms/sign_cert'
  /** Whose key `sender_tee_pubkey` names: the app's own (DER or SEC1), the node's, or another's. */
  sender: { key: 'app_der' | 'app_sec1' | 'node' | 'stranger' } | HexFieldSpec
  nonce: HexFieldSpec
  encryptedData: HexFieldSpec
  extra: Record<string, J>
  /** Replaces the whole body (not an envelope, not JSON, several envelopes). */
  body?: 'plaintext' | 'array' | 'string' | 'not_json' | 'duplicate_members' | 'nested' | 'replay'
}

const hexField = (cutMax: number): fc.Arbitrary<HexFieldSpec> =>
  fc.oneof(
    { arbitrary: fc.constant<HexFieldSpec>({ as: 'sealed' }), weight: 6 },
    { arbitrary: fc.constantFrom<HexFieldSpec>({ as: 'upper' }, { as: '0x' }), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: cutMax }).map<HexFieldSpec>((bytes) => ({ as: 'truncated', bytes })), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 4 }).map<HexFieldSpec>((bytes) => ({ as: 'extended', bytes })), weight: 1 },
    { arbitrary: fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map<HexFieldSpec>(([at, mask]) => ({ as: 'flipped', at, mask })), weight: 1 },
    { arbitrary: fc.oneof(fc.constant(undefined), fc.constantFrom<J>('', 'zz', 'abc', '0x', null, 0, true, []), hostileValue).map<HexFieldSpec>((value) => ({ as: 'json', value })), weight: 1 },
  )

const envelopeRoute = fc.constantFrom(
  { method: 'POST' as const, path: '/kms/derive' as const },
  { method: 'PUT' as const, path: '/kms/data' as const },
  { method: 'DELETE' as const, path: '/kms/data' as const },
  { method: 'POST' as const, path: '/kms/sign_cert' as const },
)

export const envelopeCase: fc.Arbitrary<EnvelopeSpec> = fc
  .tuple(
    envelopeRoute,
    fc.oneof(
      { arbitrary: fc.constantFrom<EnvelopeSpec['sender']>({ key: 'app_der' }, { key: 'app_der' }, { key: 'app_sec1' }, { key: 'node' }, { key: 'stranger' }), weight: 4 },
      { arbitrary: hexField(119), weight: 1 },
    ),
    hexField(11),
    hexField(40),
    extraFields,
    fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 8 },
      { arbitrary: fc.constantFrom('plaintext' as const, 'array' as const, 'string' as const, 'not_json' as const, 'duplicate_members' as const, 'nested' as const, 'replay' as const), weight: 2 },
    ),
  )
  .map(([route, sender, nonce, encryptedData, extra, body]) => ({
    route: 'envelope' as const,
    ...route,
    sender,
    nonce,
    encryptedData,
    extra,
    ...(body === undefined ? {} : { body }),
  }))
