/**
 * The E2E envelope on the wire (`core/envelope.ts`, PROTOCOL §5.6): its shape, sealing and
 * opening between two local TEEs, and the refusals in §5.6 order: sender (403), decryption
 * (400 `decryption_failed`, replay included), then the JSON object (400 with the caller's
 * message).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEnvelope, openEnvelope, sealEnvelope } from '../../core/envelope'
import { bytesToHex } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import { createLocalTee, type Tee } from '../../core/tee'
import { seededRandom } from '../helpers/fakeClock'

async function tees() {
  const alice = await createLocalTee({ random: seededRandom(31) })
  const bob = await createLocalTee({ random: seededRandom(32) })
  const carol = await createLocalTee({ random: seededRandom(33) })
  return {
    alice, bob, carol,
    aliceKey: await alice.getEncryptionPublicKey(),
    bobKey: await bob.getEncryptionPublicKey(),
    carolKey: await carol.getEncryptionPublicKey(),
  }
}

async function failure(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
  throw new Error('expected a KmsError')
}

const FORBIDDEN = { code: 'forbidden', message: 'sender_tee_pubkey does not match on-chain registration' }
const FAILED = { code: 'decryption_failed', message: 'Decryption failed' }
const MESSAGE = 'Invalid JSON body'

function open(tee: Pick<Tee, 'decrypt'>, envelope: Record<string, unknown>, expectedSenderDer: Uint8Array, invalidPayloadMessage = MESSAGE) {
  if (!isEnvelope(envelope)) throw new Error('not an envelope')
  return openEnvelope({ tee, envelope, expectedSenderDer, invalidPayloadMessage })
}

describe('isEnvelope (§5.6)', () => {
  it('behavior: an object with the three keys is an envelope, whatever their values or extra keys', () => {
    expect(isEnvelope({ sender_tee_pubkey: 'aa', nonce: 'bb', encrypted_data: 'cc' })).toBe(true)
    expect(isEnvelope({ sender_tee_pubkey: null, nonce: 1, encrypted_data: {} })).toBe(true)
    expect(isEnvelope({ sender_tee_pubkey: 'aa', nonce: 'bb', encrypted_data: 'cc', extra: true })).toBe(true)
  })

  it('error: anything else is not', () => {
    for (const body of [null, undefined, 'envelope', 42, true, [], [{ sender_tee_pubkey: 'a', nonce: 'b', encrypted_data: 'c' }],
      {}, { sender_tee_pubkey: 'aa', nonce: 'bb' }, { nonce: 'bb', encrypted_data: 'cc' }, { sender_tee_pubkey: 'aa', encrypted_data: 'cc' },
      { path: 'wallet/root' }]) {
      expect(isEnvelope(body)).toBe(false)
    }
  })

  it('property: an object is an envelope iff it has all three keys', () => {
    const keys = ['sender_tee_pubkey', 'nonce', 'encrypted_data'] as const
    fc.assert(
      fc.property(fc.subarray([...keys]), fc.dictionary(fc.string(), fc.jsonValue()), (present, extra) => {
        const body: Record<string, unknown> = { ...extra }
        for (const key of keys) delete body[key]
        for (const key of present) body[key] = 'x'
        expect(isEnvelope(body)).toBe(present.length === 3)
      }),
    )
  })
})

describe('sealEnvelope and openEnvelope', () => {
  it('behavior: what one TEE seals to another opens there as the same object', async () => {
    const { alice, bob, aliceKey, bobKey } = await tees()
    const inner = { path: 'wallet/root', length: 32, nested: { list: [1, 'two', null] } }
    const envelope = await sealEnvelope(alice, inner, bobKey)
    expect(Object.keys(envelope).sort()).toEqual(['encrypted_data', 'nonce', 'sender_tee_pubkey'])
    expect(envelope.sender_tee_pubkey).toBe(bytesToHex(aliceKey))
    expect(envelope.nonce).toMatch(/^[0-9a-f]{24}$/)
    expect(envelope.encrypted_data).toMatch(/^[0-9a-f]+$/)
    expect(envelope.encrypted_data).not.toContain(bytesToHex(new TextEncoder().encode('wallet/root')))
    expect(await open(bob, envelope, aliceKey)).toEqual(inner)
  })

  it('behavior: the expected sender may be given as SEC1 and the wire key in upper case', async () => {
    const { alice, bob, aliceKey, bobKey } = await tees()
    const envelope = await sealEnvelope(alice, { a: 1 }, bobKey)
    const sec1 = aliceKey.slice(aliceKey.length - 97)
    expect(await open(bob, { ...envelope, sender_tee_pubkey: envelope.sender_tee_pubkey.toUpperCase() }, sec1)).toEqual({ a: 1 })
  })

  it('error: a sender other than the registered one is 403, before any decryption', async () => {
    const { alice, bob, bobKey, carolKey } = await tees()
    const envelope = await sealEnvelope(alice, { a: 1 }, bobKey)
    expect(await failure(() => open(bob, envelope, carolKey))).toEqual(FORBIDDEN)
    // Even with garbage ciphertext, the sender check answers first.
    expect(await failure(() => open(bob, { ...envelope, encrypted_data: 'zz', nonce: 7 }, carolKey))).toEqual(FORBIDDEN)
  })

  it('error: a sender key that is not hex, not a string or not a P-384 key is 403', async () => {
    const { alice, bob, aliceKey, bobKey } = await tees()
    const envelope = await sealEnvelope(alice, { a: 1 }, bobKey)
    for (const sender of ['not hex', 42, null, '', bytesToHex(new Uint8Array(120).fill(1)), envelope.sender_tee_pubkey.slice(0, -2)]) {
      expect(await failure(() => open(bob, { ...envelope, sender_tee_pubkey: sender }, aliceKey))).toEqual(FORBIDDEN)
    }
  })

  it('error: bad hex or a non-string in nonce or encrypted_data is decryption_failed', async () => {
    const { alice, bob, aliceKey, bobKey } = await tees()
    const envelope = await sealEnvelope(alice, { a: 1 }, bobKey)
    for (const broken of [{ nonce: 'xyz' }, { nonce: envelope.nonce + '0' }, { nonce: 12 }, { encrypted_data: 'not-hex' }, { encrypted_data: null }]) {
      expect(await failure(() => open(bob, { ...envelope, ...broken }, aliceKey))).toEqual(FAILED)
    }
  })

  it('error: a tampered ciphertext, a wrong nonce or the wrong receiver is decryption_failed', async () => {
    const { alice, bob, carol, aliceKey, bobKey } = await tees()
    const envelope = await sealEnvelope(alice, { a: 1 }, bobKey)
    const last = envelope.encrypted_data.slice(-2) === '00' ? '01' : '00'
    expect(await failure(() => open(bob, { ...envelope, encrypted_data: envelope.encrypted_data.slice(0, -2) + last }, aliceKey))).toEqual(FAILED)
    expect(await failure(() => open(bob, { ...envelope, nonce: '00'.repeat(12) }, aliceKey))).toEqual(FAILED)
    expect(await failure(() => open(bob, { ...envelope, nonce: '00'.repeat(8) }, aliceKey))).toEqual(FAILED)
    expect(await failure(() => open(carol, envelope, aliceKey))).toEqual(FAILED)
  })

  it('error: a replayed envelope is refused the second time', async () => {
    const { alice, bob, aliceKey, bobKey } = await tees()
    const envelope = await sealEnvelope(alice, { op: 'put' }, bobKey)
    expect(await open(bob, envelope, aliceKey)).toEqual({ op: 'put' })
    expect(await failure(() => open(bob, envelope, aliceKey))).toEqual(FAILED)
    // A fresh envelope of the same content is fine.
    expect(await open(bob, await sealEnvelope(alice, { op: 'put' }, bobKey), aliceKey)).toEqual({ op: 'put' })
  })

  it('error: a plaintext that is JSON but not an object is 400 bad_request with the caller\'s message', async () => {
    const { alice, bob, aliceKey, bobKey } = await tees()
    for (const inner of [[1, 2], 'text', 42, null, true]) {
      const envelope = await sealEnvelope(alice, inner, bobKey)
      expect(await failure(() => open(bob, envelope, aliceKey, 'Invalid sync payload'))).toEqual({ code: 'bad_request', message: 'Invalid sync payload' })
    }
  })

  it('error: a plaintext that is not JSON is 400 bad_request with the caller\'s message', async () => {
    const { alice, bob, aliceKey, bobKey } = await tees()
    const sealed = await alice.encrypt('{"path": "wallet/root"', bobKey)
    const envelope = { sender_tee_pubkey: bytesToHex(sealed.senderPublicKeyDer), nonce: bytesToHex(sealed.nonce), encrypted_data: bytesToHex(sealed.encryptedData) }
    expect(await failure(() => open(bob, envelope, aliceKey))).toEqual({ code: 'bad_request', message: MESSAGE })
  })

  it('error: a helper that cannot be reached gives its 503, not a decryption failure', async () => {
    const { alice, aliceKey, bobKey } = await tees()
    const envelope = await sealEnvelope(alice, { a: 1 }, bobKey)
    const down: Pick<Tee, 'decrypt'> = { decrypt: async () => { throw new KmsError('service_unavailable', 'Enclave helper unavailable') } }
    expect(await failure(() => open(down, envelope, aliceKey))).toEqual({ code: 'service_unavailable', message: 'Enclave helper unavailable' })
  })

  it('behavior: the helper is asked with the registered key and the decoded bytes', async () => {
    const { alice, aliceKey, bobKey } = await tees()
    const envelope = await sealEnvelope(alice, { a: 1 }, bobKey)
    const seen: { nonce: string; sender: string; data: string }[] = []
    const spy: Pick<Tee, 'decrypt'> = {
      decrypt: async ({ nonce, senderPublicKeyDer, encryptedData }) => {
        seen.push({ nonce: bytesToHex(nonce), sender: bytesToHex(senderPublicKeyDer), data: bytesToHex(encryptedData) })
        return '{"ok":true}'
      },
    }
    expect(await open(spy, envelope, aliceKey)).toEqual({ ok: true })
    expect(seen).toEqual([{ nonce: envelope.nonce, sender: bytesToHex(aliceKey), data: envelope.encrypted_data }])
  })
})
