import { secp256k1 } from '@noble/curves/secp256k1.js'
import fc from 'fast-check'
import { recoverMessageAddress } from 'viem'
import { describe, expect, test } from 'vitest'
import {
  generateWalletPrivateKey,
  hashEip191Message,
  privateKeyToWallet,
  recoverMessageSigner,
  signMessageWithKey,
} from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { rejectionBody } from './_errors'
import { seededRandom } from './_random'
import { casesOf, hex, loadVectors, type VectorCase } from './_vectors'

interface SignatureCase extends VectorCase {
  private_key: string
  message: string
  signer: string
  expected: string
}
interface RecoverCase extends VectorCase {
  message: string
  signature: string
  expected: string
}
interface WalletCase extends VectorCase {
  private_key: string
  expected: string
}

const vectors = loadVectors(protocol)
const [popVector] = casesOf<SignatureCase>(vectors, 'eip191_signature')
/** The §5.7 app PoP signature as the spec prints it, with v = 27 (`1b`), as app tools make it. */
const popVector27 = casesOf<RecoverCase>(vectors, 'eip191_recover').find((entry) => entry.name === 'app PoP signature (RFC 6979) with v 1b')!
const N = secp256k1.Point.Fn.ORDER
const FORMAT = { code: 'unauthorized', message: 'Invalid signature format' }
const INVALID = { code: 'unauthorized', message: 'Invalid signature' }

/** r ‖ s ‖ v as 0x-hex, from numbers. */
function signatureOf(r: bigint, s: bigint, v: number): string {
  return `0x${r.toString(16).padStart(64, '0')}${s.toString(16).padStart(64, '0')}${v.toString(16).padStart(2, '0')}`
}

function split(signature: string): { r: bigint; s: bigint; v: number } {
  return {
    r: BigInt(`0x${signature.slice(2, 66)}`),
    s: BigInt(`0x${signature.slice(66, 130)}`),
    v: Number.parseInt(signature.slice(130), 16),
  }
}

describe('EIP-191 signatures (PROTOCOL §3.1, §5.7)', () => {
  test.each(casesOf<WalletCase>(vectors, 'wallet'))('vector: $name', ({ private_key, expected }) => {
    expect(privateKeyToWallet(hex(private_key))).toBe(expected)
  })

  test.each(casesOf<SignatureCase>(vectors, 'eip191_signature'))('vector: $name', (vector) => {
    const signature = signMessageWithKey(hex(vector.private_key), vector.message)
    expect(signature).toBe(vector.expected)
    expect(recoverMessageSigner(vector.message, signature)).toBe(vector.signer)
  })

  test.each(casesOf<RecoverCase>(vectors, 'eip191_recover'))('vector: $name', (vector) => {
    expect(recoverMessageSigner(vector.message, vector.signature)).toBe(vector.expected)
  })

  test('vector: the hash agrees with viem (independent EIP-191 implementation)', async () => {
    const { message, expected, signer } = popVector!
    for (const signature of [expected, popVector27.signature]) {
      expect(await recoverMessageAddress({ message, signature: signature as `0x${string}` })).toBe(
        '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
      )
    }
    expect(signer).toBe('0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266')
    expect(bytesToHex(hashEip191Message(''))).toBe('5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad')
  })

  test('behavior: node signatures are 0x + 130 lowercase hex with v 0 or 1, as the runtime signs (§3.1.2, §10.3)', () => {
    const random = seededRandom('eip191-format')
    const seen = new Set<number>()
    for (let round = 0; round < 16; round++) {
      const signature = signMessageWithKey(generateWalletPrivateKey(random), `message ${round}`)
      expect(signature).toMatch(/^0x[0-9a-f]{128}(00|01)$/)
      expect(split(signature).s <= N / 2n).toBe(true)
      seen.add(split(signature).v)
    }
    expect(seen).toEqual(new Set([0, 1]))
  })

  test('behavior: the §5.7 app signature with v 27 is the SDK-made one with v 0: same r ‖ s', () => {
    expect(popVector27.signature.slice(0, 130)).toBe(popVector!.expected.slice(0, 130))
    expect(split(popVector27.signature).v).toBe(27)
    expect(split(popVector!.expected).v).toBe(0)
  })

  test('behavior: 0x is optional, hex case is free, v may be 0/1 or 27/28', () => {
    const { message, expected, signer } = popVector!
    const { r, s, v } = split(expected)
    expect(recoverMessageSigner(message, expected.slice(2))).toBe(signer)
    expect(recoverMessageSigner(message, `0X${expected.slice(2).toUpperCase()}`)).toBe(signer)
    expect(recoverMessageSigner(message, signatureOf(r, s, v + 27))).toBe(signer)
  })

  test('property: the verifier accepts v 0/1 and 27/28 for the same message and signer', () => {
    const random = seededRandom('eip191-both-v')
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (message) => {
        const key = generateWalletPrivateKey(random)
        const { r, s, v } = split(signMessageWithKey(key, message))
        const wallet = privateKeyToWallet(key)
        expect(recoverMessageSigner(message, signatureOf(r, s, v))).toBe(wallet)
        expect(recoverMessageSigner(message, signatureOf(r, s, v + 27))).toBe(wallet)
        // The other parity, in either form, recovers some other key.
        expect(recoverMessageSigner(message, signatureOf(r, s, 1 - v))).not.toBe(wallet)
        expect(recoverMessageSigner(message, signatureOf(r, s, 28 - v))).not.toBe(wallet)
      }),
      { numRuns: 30 },
    )
  })

  test('behavior: high-S is accepted (s → n − s with the other parity recovers the same signer)', () => {
    const { message, expected, signer } = popVector!
    const { r, s, v } = split(expected)
    const highS = signatureOf(r, N - s, 1 - v)
    expect(N - s > N / 2n).toBe(true)
    expect(recoverMessageSigner(message, highS)).toBe(signer)
    expect(recoverMessageSigner(message, signatureOf(r, N - s, 28 - v))).toBe(signer)
  })

  test('behavior: a signature over another message recovers another wallet, not an error', () => {
    const { expected, signer } = popVector!
    expect(recoverMessageSigner('NovaKMS:AppAuth:other', expected)).not.toBe(signer)
  })

  test('error: v = 29 is a format failure', async () => {
    const { r, s } = split(popVector!.expected)
    expect(await rejectionBody(() => recoverMessageSigner(popVector!.message, signatureOf(r, s, 29)))).toEqual(FORMAT)
    expect(await rejectionBody(() => recoverMessageSigner(popVector!.message, signatureOf(r, s, 2)))).toEqual(FORMAT)
  })

  test('error: 64 or 66 bytes, odd length and non-hex are format failures', async () => {
    const { message, expected } = popVector!
    for (const signature of [expected.slice(0, -2), `${expected}00`, expected.slice(0, -1), `${expected.slice(0, -2)}zz`, '']) {
      expect(await rejectionBody(() => recoverMessageSigner(message, signature))).toEqual(FORMAT)
    }
  })

  test('error: r = 0, r = n, s = 0 and s = n are invalid signatures', async () => {
    const { message, expected } = popVector!
    const { r, s, v } = split(expected)
    for (const signature of [signatureOf(0n, s, v), signatureOf(N, s, v), signatureOf(r, 0n, v), signatureOf(r, N, v)]) {
      expect(await rejectionBody(() => recoverMessageSigner(message, signature))).toEqual(INVALID)
    }
  })

  test('error: an r that is no curve x-coordinate fails recovery: invalid signature', async () => {
    // x = 5: 5³ + 7 = 132 is not a square mod p, so no point R has x = r.
    const { message, expected } = popVector!
    const { s, v } = split(expected)
    expect(await rejectionBody(() => recoverMessageSigner(message, signatureOf(5n, s, v)))).toMatchInlineSnapshot(`
      {
        "code": "unauthorized",
        "message": "Invalid signature",
      }
    `)
  })

  test('property: sign then recover gives the wallet of the key', () => {
    const random = seededRandom('eip191-property')
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (message) => {
        const key = generateWalletPrivateKey(random)
        expect(recoverMessageSigner(message, signMessageWithKey(key, message))).toBe(privateKeyToWallet(key))
      }),
      { numRuns: 40 },
    )
  })

  test('error: a key outside 1..n−1 is a caller bug', () => {
    expect(() => privateKeyToWallet(new Uint8Array(32))).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: privateKey: expected 1 ≤ d < n (secp256k1)]`,
    )
    expect(() => signMessageWithKey(new Uint8Array(31), 'm')).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: privateKey: expected 32 bytes, got 31]`,
    )
  })
})
