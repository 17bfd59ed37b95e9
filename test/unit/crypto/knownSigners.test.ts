/**
 * KnownSigners (issue 14): recovery through a table of a known signer's multiples gives
 * exactly recoverMessageSigner's answer, for valid, mangled and foreign signatures alike; the
 * tables are built only for a wallet recovered twice as the claimed signer, and are bounded.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { generateWalletPrivateKey, KnownSigners, privateKeyToWallet, recoverMessageSigner, signMessageWithKey } from '../../../core/crypto'
import { bytesToHex, parseHex, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { seededRandom } from './_random'

const N = secp256k1.Point.Fn.ORDER
const random = seededRandom('known-signers')
const keys = Array.from({ length: 4 }, () => generateWalletPrivateKey(random))
const wallets = keys.map(privateKeyToWallet)

/** A result or the wire body of the error: what a caller can tell apart. */
function outcomeOf(work: () => Wallet): { wallet: Wallet } | { code: string; message: string } {
  try {
    return { wallet: work() }
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
}

/** Warms `signers` for key `index`: two recoveries as the claimed signer build its table. */
function warmed(signers: KnownSigners, index: number): KnownSigners {
  for (const round of [1, 2]) signers.recover(`warm ${round}`, signMessageWithKey(keys[index]!, `warm ${round}`), wallets[index])
  return signers
}

/** `signature` with its s replaced by n − s and v flipped: the same key recovers (§3.1.2 accepts high S). */
function highS(signature: `0x${string}`, flip = true): string {
  const bytes = parseHex(signature)!
  const s = N - BigInt(`0x${bytesToHex(bytes.subarray(32, 64))}`)
  const v = flip ? bytes[64]! ^ 1 : bytes[64]!
  return `0x${bytesToHex(bytes.subarray(0, 32))}${s.toString(16).padStart(64, '0')}${v.toString(16).padStart(2, '0')}`
}

/** `signature` with one byte changed. */
function mangled(signature: string, at: number, xor: number): string {
  const bytes = parseHex(signature)!
  bytes[at] = bytes[at]! ^ xor
  return `0x${bytesToHex(bytes)}`
}

describe('KnownSigners: the same answer as recoverMessageSigner', () => {
  const signers = warmed(warmed(new KnownSigners(), 0), 1)

  test('behavior: both keys have a table after their second recovery', () => {
    expect(signers.size).toBe(2)
  })

  test('property: any signature, mangled or not, claimed by a known wallet or another, recovers to the same wallet or fails with the same body', () => {
    const variant = fc.oneof(
      fc.constant<['as signed']>(['as signed']),
      fc.constant<['v 27/28']>(['v 27/28']),
      fc.constant<['v flipped']>(['v flipped']),
      fc.constant<['high S']>(['high S']),
      fc.constant<['high S, v kept']>(['high S, v kept']),
      fc.tuple(fc.constant<'byte'>('byte'), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 255 })),
      fc.constant<['other message']>(['other message']),
    )
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.nat({ max: 3 }), fc.nat({ max: 4 }), variant, (message, signerIndex, claimIndex, [kind, at, xor]) => {
        const signed = signMessageWithKey(keys[signerIndex]!, message)
        let signature: string = signed
        if (kind === 'v 27/28') signature = mangled(signed, 64, 27)
        if (kind === 'v flipped') signature = mangled(signed, 64, 1)
        if (kind === 'high S') signature = highS(signed)
        if (kind === 'high S, v kept') signature = highS(signed, false)
        if (kind === 'byte') signature = mangled(signed, at!, xor!)
        const verified = kind === 'other message' ? `${message}.` : message
        // Index 4 claims no wallet: the plain recovery.
        const claimed = claimIndex === 4 ? undefined : wallets[claimIndex]
        expect(outcomeOf(() => signers.recover(verified, signature, claimed))).toEqual(outcomeOf(() => recoverMessageSigner(verified, signature)))
      }),
      { numRuns: 400 },
    )
  })

  test('behavior: a known signer is confirmed without a recovery; anything else is recovered', () => {
    const before = signers.counts
    expect(signers.recover('fast', signMessageWithKey(keys[0]!, 'fast'), wallets[0])).toBe(wallets[0])
    expect(signers.counts).toEqual({ confirmed: before.confirmed + 1, recovered: before.recovered })
    // Signed by key 2, claimed by known wallet 0: the table says no, recovery names key 2.
    expect(signers.recover('fast', signMessageWithKey(keys[2]!, 'fast'), wallets[0])).toBe(wallets[2])
    expect(signers.counts).toEqual({ confirmed: before.confirmed + 1, recovered: before.recovered + 1 })
  })
})

describe('KnownSigners: which tables are built and kept', () => {
  test('behavior: one recovery as the claimed signer builds nothing; a second builds the table', () => {
    const signers = new KnownSigners()
    signers.recover('a', signMessageWithKey(keys[0]!, 'a'), wallets[0])
    expect(signers.size).toBe(0)
    signers.recover('b', signMessageWithKey(keys[0]!, 'b'), wallets[0])
    expect(signers.size).toBe(1)
  })

  test('behavior: recoveries without a claim, or whose signer is not the claimed wallet, build nothing', () => {
    const signers = new KnownSigners()
    for (const round of [1, 2, 3]) {
      signers.recover(`m${round}`, signMessageWithKey(keys[0]!, `m${round}`))
      signers.recover(`m${round}`, signMessageWithKey(keys[0]!, `m${round}`), wallets[1])
    }
    expect(signers.size).toBe(0)
  })

  test('behavior: at most `capacity` tables, the least recently confirmed signer leaving first', () => {
    const signers = warmed(warmed(new KnownSigners({ capacity: 2 }), 0), 1)
    // Key 0 is used again, so key 1 is now the least recent.
    signers.recover('again', signMessageWithKey(keys[0]!, 'again'), wallets[0])
    warmed(signers, 2)
    expect(signers.size).toBe(2)
    const { recovered } = signers.counts
    signers.recover('x', signMessageWithKey(keys[0]!, 'x'), wallets[0])
    signers.recover('x', signMessageWithKey(keys[2]!, 'x'), wallets[2])
    expect(signers.counts.recovered).toBe(recovered)
    signers.recover('x', signMessageWithKey(keys[1]!, 'x'), wallets[1])
    expect(signers.counts.recovered).toBe(recovered + 1)
  })

  test('behavior: capacity 0 never builds a table; a negative or fractional capacity is refused', () => {
    expect(warmed(new KnownSigners({ capacity: 0 }), 0).size).toBe(0)
    expect(() => new KnownSigners({ capacity: -1 })).toThrow(RangeError)
    expect(() => new KnownSigners({ capacity: 1.5 })).toThrow(RangeError)
  })
})
