/**
 * `createAppValues` (PROTOCOL §2.5, §5.3): encrypt-then-put and get-then-decrypt through a
 * real `KvStore` and a real `KeyRing`. The store holds only ciphertext; a value that no longer
 * opens is 400 `decryption_failed`; no secret is 503.
 */
import { describe, expect, it } from 'vitest'
import { bytesToHex, utf8ToBytes } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { KeyRing } from '../../../core/keys'
import { createAppValues } from '../../../core/store'
import { seededRandom } from '../../helpers/fakeClock'
import { makeStore, T0 } from './_helpers'

const MASTER = Uint8Array.from({ length: 32 }, (_, index) => index)

async function setup(options: { secret?: Uint8Array | null } = {}) {
  const { store, clock } = makeStore()
  const keys = new KeyRing({ kmsAppId: 49 })
  const secret = options.secret === undefined ? MASTER : options.secret
  if (secret !== null) await keys.install(secret, 'generated')
  const values = createAppValues({ store, cipher: keys, random: seededRandom(41) })
  return { store, clock, keys, values }
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

const FAILED = { code: 'decryption_failed', message: 'Decryption failed' }
const NOT_READY = { code: 'service_unavailable', message: 'master secret not initialized' }

describe('app values (PROTOCOL §2.5, §5.3)', () => {
  it('behavior: put then get returns the value and the write time', async () => {
    const { values, clock } = await setup()
    const put = await values.put(49, 'greeting', utf8ToBytes('hello'), 0)
    expect(put.updatedAtMs).toBe(T0)
    // The stored record comes back too, for the sync journal (§6.8): ciphertext only.
    expect(put.record).toMatchObject({ key: 'greeting', updatedAtMs: T0, tombstone: false, ttlMs: 0 })
    expect(put.record.ciphertext.length).toBe(5 + 28)
    clock.advance(5)
    expect(await values.get(49, 'greeting')).toEqual({ value: utf8ToBytes('hello'), updatedAtMs: T0 })
  })

  it('behavior: the store holds nonce ‖ AES-GCM under the app\'s data key, never the plaintext', async () => {
    const { values, store, keys } = await setup()
    const plaintext = utf8ToBytes('the plaintext value')
    await values.put(49, 'k', plaintext, 0)
    const { ciphertext } = store.get(49, 'k')
    expect(ciphertext.length).toBe(plaintext.length + 28)
    expect(bytesToHex(ciphertext)).not.toContain(bytesToHex(plaintext))
    expect(ciphertext.subarray(0, 12)).toEqual(seededRandom(41).bytes(12))
    expect(await keys.decryptValue(49, ciphertext)).toEqual(plaintext)
  })

  it('behavior: each put draws a fresh nonce, so equal values are stored differently', async () => {
    const { values, store } = await setup()
    await values.put(49, 'a', utf8ToBytes('same'), 0)
    await values.put(49, 'b', utf8ToBytes('same'), 0)
    expect(bytesToHex(store.get(49, 'a').ciphertext)).not.toBe(bytesToHex(store.get(49, 'b').ciphertext))
  })

  it('behavior: an empty value and a binary value round-trip', async () => {
    const { values } = await setup()
    await values.put(49, 'empty', new Uint8Array(0), 0)
    expect((await values.get(49, 'empty')).value).toEqual(new Uint8Array(0))
    const binary = Uint8Array.from({ length: 256 }, (_, index) => index)
    await values.put(49, 'binary', binary, 0)
    expect((await values.get(49, 'binary')).value).toEqual(binary)
  })

  it('error: an absent, deleted or expired key is 404 not_found with the key', async () => {
    const { values, store, clock } = await setup()
    expect(await failure(() => values.get(49, 'missing'))).toEqual({ code: 'not_found', message: 'Key not found: missing' })
    await values.put(49, 'gone', utf8ToBytes('v'), 0)
    store.delete(49, 'gone')
    expect(await failure(() => values.get(49, 'gone'))).toEqual({ code: 'not_found', message: 'Key not found: gone' })
    await values.put(49, 'brief', utf8ToBytes('v'), 1000)
    clock.advance(1001)
    expect(await failure(() => values.get(49, 'brief'))).toEqual({ code: 'not_found', message: 'Key not found: brief' })
  })

  it('error: apps are separate namespaces: another app\'s key is not found', async () => {
    const { values } = await setup()
    await values.put(49, 'k', utf8ToBytes('v'), 0)
    expect(await failure(() => values.get(50, 'k'))).toEqual({ code: 'not_found', message: 'Key not found: k' })
  })

  it('error: a corrupted stored value is 400 decryption_failed, and the namespace stays usable', async () => {
    const { values, store } = await setup()
    await values.put(49, 'k', utf8ToBytes('hello'), 0)
    store.get(49, 'k').ciphertext[20]! ^= 0x01
    expect(await failure(() => values.get(49, 'k'))).toEqual(FAILED)
    await values.put(49, 'other', utf8ToBytes('fine'), 0)
    expect((await values.get(49, 'other')).value).toEqual(utf8ToBytes('fine'))
  })

  it('error: a value stored under another secret or another app\'s key is 400 decryption_failed', async () => {
    const { values, store, keys } = await setup()
    const foreign = new KeyRing({ kmsAppId: 49 })
    await foreign.install(new Uint8Array(32).fill(9), 'generated')
    store.put(49, 'foreign', await foreign.encryptValue(49, utf8ToBytes('v'), new Uint8Array(12)), 0)
    expect(await failure(() => values.get(49, 'foreign'))).toEqual(FAILED)
    store.put(49, 'misfiled', await keys.encryptValue(50, utf8ToBytes('v'), new Uint8Array(12)), 0)
    expect(await failure(() => values.get(49, 'misfiled'))).toEqual(FAILED)
  })

  it('error: without a secret, put is 503 and stores nothing', async () => {
    const { values, store } = await setup({ secret: null })
    expect(await failure(() => values.put(49, 'k', utf8ToBytes('v'), 0))).toEqual(NOT_READY)
    expect(store.list(49)).toEqual([])
    expect(store.stats().total_keys).toBe(0)
  })

  it('error: without a secret, get of a stored value is 503, not decryption_failed', async () => {
    const { store, values } = await setup({ secret: null })
    store.put(49, 'k', new Uint8Array(40), 0)
    expect(await failure(() => values.get(49, 'k'))).toEqual(NOT_READY)
  })

  it('behavior: a value written under one secret no longer opens after the secret is replaced', async () => {
    const { values, keys } = await setup()
    await values.put(49, 'k', utf8ToBytes('v'), 0)
    await keys.install(new Uint8Array(32).fill(3), 'generated')
    expect(await failure(() => values.get(49, 'k'))).toEqual(FAILED)
  })
})
