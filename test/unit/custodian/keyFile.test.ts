/**
 * The custodian key file (bundle/custodian/keyFile.ts) and the `nova-kms custodian keygen` /
 * `show-key` commands run as processes through tsx: scrypt + AES-256-GCM round trip, the
 * header bound as additional data, hostile scrypt parameters refused before any work, 0600
 * and no overwrite.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import { webCryptoRandom } from '../../../bundle/runtime'
import { decryptKeyFile, encryptKeyFile, generateCustodianKeys, parseKeyFileHeader, SCRYPT_DEFAULTS } from '../../../bundle/custodian/keyFile'
import { bytesToHex } from '../../../core/encoding'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const TSX = join(ROOT, 'node_modules/.bin/tsx')
const scratch = mkdtempSync(join(tmpdir(), 'nova-custodian-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
/** Small N for the library cases: the parameters are what is under test, not their cost. */
const FAST = { N: 2 ** 10, r: 8, p: 1 }

function cli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, ['bundle/cli.ts', 'custodian', ...args], { cwd: ROOT, timeout: 90_000, encoding: 'utf8', env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

describe('key file', () => {
  test('behavior: round trip with the passphrase gives back both keys', async () => {
    const keys = await generateCustodianKeys(webCryptoRandom)
    const text = await encryptKeyFile({ keys, passphrase: 'correct horse', random: webCryptoRandom, scrypt: FAST })
    const opened = await decryptKeyFile(text, 'correct horse')
    expect(bytesToHex(opened.sealingScalar)).toBe(bytesToHex(keys.sealingScalar))
    expect(bytesToHex(opened.approverKey)).toBe(bytesToHex(keys.approverKey))
    expect(opened.approver).toBe(keys.approver)
    expect(text).not.toContain(bytesToHex(keys.sealingScalar))
  })

  test('error: a wrong passphrase, or any header field changed, fails the GCM tag', async () => {
    const keys = await generateCustodianKeys(webCryptoRandom)
    const other = await generateCustodianKeys(webCryptoRandom)
    const text = await encryptKeyFile({ keys, passphrase: 'pw', random: webCryptoRandom, scrypt: FAST })
    await expect(decryptKeyFile(text, 'pW')).rejects.toThrow('wrong passphrase, or the key file was modified')
    const parsed = JSON.parse(text) as Record<string, unknown>
    const swapped = JSON.stringify({ ...parsed, approver: other.approver })
    await expect(decryptKeyFile(swapped, 'pw')).rejects.toThrow('wrong passphrase, or the key file was modified')
    const weaker = JSON.stringify({ ...parsed, kdf: { ...(parsed['kdf'] as object), r: 4 } })
    await expect(decryptKeyFile(weaker, 'pw')).rejects.toThrow('wrong passphrase, or the key file was modified')
  })

  test('error: hostile scrypt parameters are refused when read, before any work', () => {
    const base = { format: 'nova-kms-custodian-key', v: 1, sealing_public_key: '00'.repeat(120), approver: `0x${'11'.repeat(20)}`, cipher: { name: 'AES-256-GCM', iv: '00'.repeat(12) }, ciphertext: '00'.repeat(64) }
    const withKdf = (kdf: Record<string, unknown>) => JSON.stringify({ ...base, kdf: { name: 'scrypt', salt: '00'.repeat(16), N: 2 ** 17, r: 8, p: 1, ...kdf } })
    expect(() => parseKeyFileHeader(withKdf({ N: 2 ** 30 }))).toThrow('scrypt N must be a power of two from 2^10 to 2^20')
    expect(() => parseKeyFileHeader(withKdf({ N: 3 }))).toThrow('scrypt N must be a power of two')
    expect(() => parseKeyFileHeader(withKdf({ r: 1000 }))).toThrow('scrypt r must be 1..16')
    expect(() => parseKeyFileHeader(withKdf({ p: 64 }))).toThrow('scrypt p must be 1..4')
    expect(() => parseKeyFileHeader(withKdf({ N: 2 ** 20, r: 16, p: 4 }))).toThrow('too much memory')
    expect(() => parseKeyFileHeader(withKdf({ salt: '00' }))).toThrow('scrypt salt must be 16..64 bytes')
    expect(() => parseKeyFileHeader('x'.repeat(20_000))).toThrow('too large')
    expect(parseKeyFileHeader(withKdf({})).approver).toBe(`0x${'11'.repeat(20)}`)
  })
})

describe('nova-kms custodian keygen / show-key', { timeout: 180_000 }, () => {
  test('behavior: keygen writes a 0600 file with the default scrypt parameters, prints what show-key prints, and never overwrites', async () => {
    const out = join(scratch, 'custodian.json')
    const passphraseFile = join(scratch, 'passphrase.txt')
    writeFileSync(passphraseFile, 'from a file\n')
    const made = await cli(['keygen', '--out', out, '--passphrase-file', passphraseFile, '--json'])
    expect(made.code, made.stderr).toBe(0)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const printed = JSON.parse(made.stdout) as { sealingKeyDer: string; approver: string }
    const header = JSON.parse(readFileSync(out, 'utf8')) as { kdf: { N: number; r: number; p: number; salt: string } }
    expect([header.kdf.N, header.kdf.r, header.kdf.p]).toEqual([SCRYPT_DEFAULTS.N, SCRYPT_DEFAULTS.r, SCRYPT_DEFAULTS.p])
    expect(header.kdf.salt).toHaveLength(32)

    const shown = await cli(['show-key', '--key', out, '--json'])
    expect(shown.code, shown.stderr).toBe(0)
    expect(JSON.parse(shown.stdout)).toEqual(printed)
    const opened = await decryptKeyFile(readFileSync(out, 'utf8'), 'from a file')
    expect(`0x${bytesToHex(opened.sealingPublicKeyDer)}`).toBe(printed.sealingKeyDer)

    const before = readFileSync(out, 'utf8')
    const again = await cli(['keygen', '--out', out], { NOVA_KMS_CUSTODIAN_PASSPHRASE: 'env' })
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('exists: keygen never overwrites a key file')
    expect(readFileSync(out, 'utf8')).toBe(before)
  })

  test('error: no passphrase source off a terminal is a refusal (exit 1); a missing flag is usage (exit 2)', async () => {
    const env = { NOVA_KMS_CUSTODIAN_PASSPHRASE: '' }
    const [empty, usage] = await Promise.all([cli(['keygen', '--out', join(scratch, 'never.json')], env), cli(['recover', '--rpc', 'http://127.0.0.1:1'])])
    expect(empty.code).toBe(1)
    expect(empty.stderr).toContain('the passphrase is empty')
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--node is required')
  })
})
