/**
 * The custodian key file (issue 15): one JSON file holding a P-384 scalar (the key shares are
 * sealed to) and a secp256k1 key (the address that approves or vetoes policy changes),
 * encrypted with a passphrase. scrypt (RFC 7914) stretches the passphrase; AES-256-GCM
 * (WebCrypto) encrypts, with the file's header as additional data, so that a changed
 * parameter, public key or address fails to decrypt instead of being believed.
 *
 * The scrypt parameters are stored in the file and bounded when read: a hostile file must
 * not be able to ask for gigabytes of memory or hours of CPU.
 */
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { p384 } from '@noble/curves/nist.js'
import { bytesToHex, canonicalJson, parseHex, utf8ToBytes, type Wallet } from '../../core/encoding'
import { importP384PrivateKey, privateKeyToWallet, generateWalletPrivateKey, type P384PrivateKey } from '../../core/crypto'
import type { Random } from '../../core/runtime'

export const KEY_FILE_FORMAT = 'nova-kms-custodian-key'
/** RFC 7914 §2 recommends N = 2^20 for files; 2^17 (128 MiB with r = 8) keeps keygen near a second. */
export const SCRYPT_DEFAULTS = { N: 2 ** 17, r: 8, p: 1 } as const
/** What a file may ask for: N ≤ 2^20, r ≤ 16, p ≤ 4 (at most 2 GiB, bounded below by maxmem). */
const SCRYPT_MAX = { logN: 20, r: 16, p: 4 } as const
const SCRYPT_MAXMEM = 2 ** 31
const SALT_BYTES = 16
const IV_BYTES = 12
/** A key file is a few hundred bytes; anything much larger is not one. */
export const KEY_FILE_MAX_BYTES = 16_384

export class KeyFileError extends Error {
  override name = 'KeyFileError'
}

export interface CustodianKeys {
  /** The P-384 key shares are sealed to. */
  sealingKey: P384PrivateKey
  /** Its scalar, 48 bytes (the recovery library signs submissions with it). */
  sealingScalar: Uint8Array
  /** SubjectPublicKeyInfo DER, 120 bytes: what is registered in the policy. */
  sealingPublicKeyDer: Uint8Array
  /** The secp256k1 private key, 32 bytes. */
  approverKey: Uint8Array
  approver: Wallet
}

interface Header {
  format: typeof KEY_FILE_FORMAT
  v: 1
  sealing_public_key: string
  approver: string
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string }
  cipher: { name: 'AES-256-GCM'; iv: string }
}

/** WebCrypto's types want an ArrayBuffer-backed view. */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

async function deriveKey(passphrase: string, kdf: Header['kdf']): Promise<CryptoKey> {
  const salt = parseHex(kdf.salt)!
  const raw = await scryptAsync(utf8ToBytes(passphrase.normalize('NFKC')), salt, { N: kdf.N, r: kdf.r, p: kdf.p, dkLen: 32, maxmem: SCRYPT_MAXMEM })
  try {
    return await globalThis.crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
  } finally {
    raw.fill(0)
  }
}

async function keysFrom(sealingScalar: Uint8Array, approverKey: Uint8Array): Promise<CustodianKeys> {
  const sealingKey = await importP384PrivateKey(sealingScalar)
  return { sealingKey, sealingScalar, sealingPublicKeyDer: sealingKey.publicKey.der, approverKey, approver: privateKeyToWallet(approverKey) }
}

/** Fresh keys: a P-384 scalar and a secp256k1 key from `random`. */
export async function generateCustodianKeys(random: Random): Promise<CustodianKeys> {
  let scalar = random.bytes(48)
  while (!p384.utils.isValidSecretKey(scalar)) scalar = random.bytes(48)
  return keysFrom(scalar, generateWalletPrivateKey(random))
}

/** The key file's text (JSON): `keys` encrypted under `passphrase`. */
export async function encryptKeyFile(params: { keys: CustodianKeys; passphrase: string; random: Random; scrypt?: { N: number; r: number; p: number } }): Promise<string> {
  if (params.passphrase.length === 0) throw new KeyFileError('the passphrase is empty')
  const scrypt = params.scrypt ?? SCRYPT_DEFAULTS
  const header: Header = {
    format: KEY_FILE_FORMAT,
    v: 1,
    sealing_public_key: bytesToHex(params.keys.sealingPublicKeyDer),
    approver: params.keys.approver,
    kdf: { name: 'scrypt', ...scrypt, salt: bytesToHex(params.random.bytes(SALT_BYTES)) },
    cipher: { name: 'AES-256-GCM', iv: bytesToHex(params.random.bytes(IV_BYTES)) },
  }
  checkKdf(header.kdf)
  const key = await deriveKey(params.passphrase, header.kdf)
  const plaintext = utf8ToBytes(JSON.stringify({ p384_scalar: bytesToHex(params.keys.sealingScalar), secp256k1_key: bytesToHex(params.keys.approverKey) }))
  const ciphertext = new Uint8Array(
    await globalThis.crypto.subtle.encrypt({ name: 'AES-GCM', iv: buffer(parseHex(header.cipher.iv)!), additionalData: buffer(utf8ToBytes(canonicalJson(header))) }, key, buffer(plaintext)),
  )
  plaintext.fill(0)
  return `${JSON.stringify({ ...header, ciphertext: bytesToHex(ciphertext) }, null, 2)}\n`
}

function checkKdf(kdf: Header['kdf']): void {
  const logN = Math.log2(kdf.N)
  if (!Number.isInteger(logN) || logN < 10 || logN > SCRYPT_MAX.logN) throw new KeyFileError(`scrypt N must be a power of two from 2^10 to 2^${SCRYPT_MAX.logN}`)
  if (!Number.isInteger(kdf.r) || kdf.r < 1 || kdf.r > SCRYPT_MAX.r) throw new KeyFileError(`scrypt r must be 1..${SCRYPT_MAX.r}`)
  if (!Number.isInteger(kdf.p) || kdf.p < 1 || kdf.p > SCRYPT_MAX.p) throw new KeyFileError(`scrypt p must be 1..${SCRYPT_MAX.p}`)
  if (128 * kdf.N * kdf.r * kdf.p > SCRYPT_MAXMEM) throw new KeyFileError('scrypt parameters ask for too much memory')
  const salt = parseHex(kdf.salt)
  if (salt === undefined || salt.length < SALT_BYTES || salt.length > 64) throw new KeyFileError('scrypt salt must be 16..64 bytes of hex')
}

/** Parses the public part of a key file, without the passphrase (show-key, status). */
export function parseKeyFileHeader(text: string): { header: Header; ciphertext: Uint8Array; sealingPublicKeyDer: Uint8Array; approver: Wallet } {
  if (text.length > KEY_FILE_MAX_BYTES) throw new KeyFileError('not a custodian key file (too large)')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new KeyFileError('not a custodian key file (not JSON)')
  }
  if (!isObject(parsed) || parsed['format'] !== KEY_FILE_FORMAT || parsed['v'] !== 1) throw new KeyFileError('not a custodian key file (format)')
  const kdf = parsed['kdf']
  const cipher = parsed['cipher']
  if (!isObject(kdf) || kdf['name'] !== 'scrypt' || typeof kdf['N'] !== 'number' || typeof kdf['r'] !== 'number' || typeof kdf['p'] !== 'number' || typeof kdf['salt'] !== 'string') {
    throw new KeyFileError('not a custodian key file (kdf)')
  }
  if (!isObject(cipher) || cipher['name'] !== 'AES-256-GCM' || typeof cipher['iv'] !== 'string' || parseHex(cipher['iv'])?.length !== IV_BYTES) {
    throw new KeyFileError('not a custodian key file (cipher)')
  }
  const header: Header = {
    format: KEY_FILE_FORMAT,
    v: 1,
    sealing_public_key: String(parsed['sealing_public_key']),
    approver: String(parsed['approver']),
    kdf: { name: 'scrypt', N: kdf['N'], r: kdf['r'], p: kdf['p'], salt: kdf['salt'] },
    cipher: { name: 'AES-256-GCM', iv: cipher['iv'] },
  }
  checkKdf(header.kdf)
  const sealingPublicKeyDer = parseHex(header.sealing_public_key)
  if (sealingPublicKeyDer === undefined || sealingPublicKeyDer.length !== 120) throw new KeyFileError('not a custodian key file (sealing_public_key)')
  if (!/^0x[0-9a-f]{40}$/.test(header.approver)) throw new KeyFileError('not a custodian key file (approver)')
  const ciphertext = typeof parsed['ciphertext'] === 'string' ? parseHex(parsed['ciphertext']) : undefined
  if (ciphertext === undefined || ciphertext.length < 16 || ciphertext.length > 1024) throw new KeyFileError('not a custodian key file (ciphertext)')
  return { header, ciphertext, sealingPublicKeyDer, approver: header.approver as Wallet }
}

/**
 * Decrypts a key file. A wrong passphrase and a changed header both fail the GCM tag.
 * @throws KeyFileError naming what is wrong (never the passphrase or key bytes).
 */
export async function decryptKeyFile(text: string, passphrase: string): Promise<CustodianKeys> {
  const { header, ciphertext } = parseKeyFileHeader(text)
  const key = await deriveKey(passphrase, header.kdf)
  let plaintext: Uint8Array
  try {
    plaintext = new Uint8Array(
      await globalThis.crypto.subtle.decrypt({ name: 'AES-GCM', iv: buffer(parseHex(header.cipher.iv)!), additionalData: buffer(utf8ToBytes(canonicalJson(header))) }, key, buffer(ciphertext)),
    )
  } catch {
    throw new KeyFileError('wrong passphrase, or the key file was modified')
  }
  let inner: unknown
  try {
    inner = JSON.parse(new TextDecoder().decode(plaintext))
  } finally {
    plaintext.fill(0)
  }
  const scalar = isObject(inner) && typeof inner['p384_scalar'] === 'string' ? parseHex(inner['p384_scalar']) : undefined
  const approverKey = isObject(inner) && typeof inner['secp256k1_key'] === 'string' ? parseHex(inner['secp256k1_key']) : undefined
  if (scalar?.length !== 48 || approverKey?.length !== 32 || !p384.utils.isValidSecretKey(scalar)) throw new KeyFileError('the key file holds malformed keys')
  const keys = await keysFrom(scalar, approverKey)
  // The header is authenticated, but check that it describes the keys it wraps.
  if (bytesToHex(keys.sealingPublicKeyDer) !== header.sealing_public_key || keys.approver !== header.approver) {
    throw new KeyFileError('the key file header does not match its keys')
  }
  return keys
}
