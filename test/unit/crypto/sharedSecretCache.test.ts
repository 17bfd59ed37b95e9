/**
 * The ECDH cache of `computeP384SharedSecret` (issue 14): Z is computed once per (own key,
 * counterpart key), is the same value WebCrypto gives, is handed out as a copy, and the cache
 * stays bounded, least recently used first out.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { computeP384SharedSecret, generateP384PrivateKey, importP384PrivateKey } from '../../../core/crypto'
import { SHARED_SECRET_CACHE_ENTRIES } from '../../../core/crypto/computeP384SharedSecret'
import { bytesToHex } from '../../../core/encoding'
import { seededRandom } from '../../helpers/fakeClock'

afterEach(() => vi.restoreAllMocks())

describe('computeP384SharedSecret cache', () => {
  it('behavior: the second call for a pair does no ECDH and returns the same Z as a fresh key object would', async () => {
    const random = seededRandom(5)
    const own = await generateP384PrivateKey(random)
    const peer = await generateP384PrivateKey(random)
    const derive = vi.spyOn(globalThis.crypto.subtle, 'deriveBits')
    const first = await computeP384SharedSecret(own, peer.publicKey)
    const second = await computeP384SharedSecret(own, peer.publicKey)
    expect(derive).toHaveBeenCalledTimes(1)
    expect(bytesToHex(second)).toBe(bytesToHex(first))
    // The other side, with its own cache, agrees: Z is symmetric.
    expect(bytesToHex(await computeP384SharedSecret(peer, own.publicKey))).toBe(bytesToHex(first))
    expect(derive).toHaveBeenCalledTimes(2)
  })

  it('behavior: a caller that overwrites its copy does not change the cached Z', async () => {
    const random = seededRandom(6)
    const own = await generateP384PrivateKey(random)
    const peer = await generateP384PrivateKey(random)
    const first = await computeP384SharedSecret(own, peer.publicKey)
    const expected = bytesToHex(first)
    first.fill(0)
    expect(bytesToHex(await computeP384SharedSecret(own, peer.publicKey))).toBe(expected)
  })

  it('behavior: the cache belongs to the private key object; another object of the same scalar computes again', async () => {
    const scalar = new Uint8Array(48).fill(0x21)
    const peer = await generateP384PrivateKey(seededRandom(7))
    const derive = vi.spyOn(globalThis.crypto.subtle, 'deriveBits')
    const a = await computeP384SharedSecret(await importP384PrivateKey(scalar), peer.publicKey)
    const b = await computeP384SharedSecret(await importP384PrivateKey(scalar), peer.publicKey)
    expect(bytesToHex(b)).toBe(bytesToHex(a))
    expect(derive).toHaveBeenCalledTimes(2)
  })

  it(`behavior: at most ${SHARED_SECRET_CACHE_ENTRIES} counterparts are remembered; the least recently used goes first`, async () => {
    const random = seededRandom(8)
    const own = await generateP384PrivateKey(random)
    const counterparts = []
    for (let index = 0; index <= SHARED_SECRET_CACHE_ENTRIES; index++) counterparts.push((await generateP384PrivateKey(random)).publicKey)
    for (const counterpart of counterparts.slice(0, SHARED_SECRET_CACHE_ENTRIES)) await computeP384SharedSecret(own, counterpart)
    // Touch the first, so the second is now the least recently used; the extra one evicts it.
    await computeP384SharedSecret(own, counterparts[0]!)
    await computeP384SharedSecret(own, counterparts[SHARED_SECRET_CACHE_ENTRIES]!)
    const derive = vi.spyOn(globalThis.crypto.subtle, 'deriveBits')
    await computeP384SharedSecret(own, counterparts[0]!)
    expect(derive).toHaveBeenCalledTimes(0)
    await computeP384SharedSecret(own, counterparts[1]!)
    expect(derive).toHaveBeenCalledTimes(1)
  })
})
