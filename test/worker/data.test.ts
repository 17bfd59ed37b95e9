/**
 * `/kms/data` end to end over `dist/kms.mjs` in Miniflare with real PoP and envelopes
 * (issue 4, PROTOCOL §2.5, §6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KmsClient } from '../../core/client'
import { generateWalletPrivateKey } from '../../core/crypto'
import { CLOCK_ENTRY_BYTES, keyBytes, RECORD_OVERHEAD_BYTES } from '../../core/store'
import { answerForDeclaredLength } from '../helpers/declaredBody'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { cryptoRandom, registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode, refusal } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100'
const MIB = 1024 * 1024

let chain: DevChain
let node: TestNode
let appA: TestApp
let appB: TestApp
let clientA: KmsClient
let clientB: KmsClient

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (value: Uint8Array): string => new TextDecoder().decode(value)


async function startReadyNode(): Promise<TestNode> {
  const started = await startMiniflareNode(chain, { MASTER_SECRET_HEX, NODE_PRIVATE_KEY: Buffer.from(generateWalletPrivateKey(cryptoRandom)).toString('hex') })
  await registerKmsNode(chain, started)
  await tickUntil(started, (status) => status.node.service_available)
  return started
}

beforeAll(async () => {
  chain = await startDevChain()
  node = await startReadyNode()
  appA = await registerTestApp(chain)
  appB = await registerTestApp(chain)
  clientA = await appA.client(node)
  clientB = await appB.client(node)
})

afterAll(async () => {
  await node?.stop()
  await chain?.stop()
})

describe('/kms/data over dist/kms.mjs', () => {
  it('behavior: put, get, list and delete round-trip; a second delete is 404 (conformance 57, 60, 62)', async () => {
    const { updatedAtMs } = await clientA.putData('greeting', bytes('hello'))
    expect(updatedAtMs).toBeGreaterThan(0)
    const read = await clientA.getData('greeting')
    expect(text(read.value)).toBe('hello')
    expect(read.updatedAtMs).toBe(updatedAtMs)
    await clientA.putData('b-key', bytes('2'))
    await clientA.putData('a-key', bytes('1'))
    expect(await clientA.listData()).toEqual(['a-key', 'b-key', 'greeting'])
    await clientA.deleteData('b-key')
    expect(await clientA.listData()).toEqual(['a-key', 'greeting'])
    expect(await refusal(() => clientA.deleteData('b-key'))).toEqual({ status: 404, code: 'not_found', message: 'Key not found: b-key' })
    expect(await refusal(() => clientA.getData('b-key'))).toEqual({ status: 404, code: 'not_found', message: 'Key not found: b-key' })
  })

  it('behavior: a key with / reads the same by path and by query (conformance 59)', async () => {
    await clientA.putData('dir/sub dir/κλειδί', bytes('nested'))
    const byQuery = await clientA.request('GET', `/kms/data?key=${encodeURIComponent('dir/sub dir/κλειδί')}`)
    const byPath = await clientA.request('GET', `/kms/data/dir/${encodeURIComponent('sub dir')}/${encodeURIComponent('κλειδί')}?key=ignored`)
    expect(byPath).toEqual(byQuery)
    expect(byPath['key']).toBe('dir/sub dir/κλειδί')
  })

  it('behavior: a TTL expires the record: 404 and gone from the list (conformance 61)', async () => {
    await clientA.putData('short-lived', bytes('x'), 300)
    expect(text((await clientA.getData('short-lived')).value)).toBe('x')
    await new Promise((resolve) => setTimeout(resolve, 450))
    expect(await refusal(() => clientA.getData('short-lived'))).toEqual({ status: 404, code: 'not_found', message: 'Key not found: short-lived' })
    expect(await clientA.listData()).not.toContain('short-lived')
  })

  it('behavior: app B never sees app A\'s keys (conformance 63)', async () => {
    await clientA.putData('secret-of-a', bytes('a only'))
    expect(await clientB.listData()).toEqual([])
    expect(await refusal(() => clientB.getData('secret-of-a'))).toEqual({ status: 404, code: 'not_found', message: 'Key not found: secret-of-a' })
    await clientB.putData('secret-of-a', bytes('b value'))
    expect(text((await clientA.getData('secret-of-a')).value)).toBe('a only')
    expect(text((await clientB.getData('secret-of-a')).value)).toBe('b value')
  })

  it('error: input checks give 400 with the PROTOCOL message, and lose nothing (conformance 58)', async () => {
    await clientA.putData('keep-me', bytes('still here'))
    const cases: [Record<string, unknown>, string][] = [
      [{ value: 'AA==' }, "Missing 'key' field"],
      [{ key: '', value: 'AA==' }, "Invalid 'key'"],
      [{ key: 'k'.repeat(1025), value: 'AA==' }, "Invalid 'key'"],
      [{ key: 'k' }, "Missing 'value' field"],
      [{ key: 'k', value: 'not base64!' }, 'Invalid base64 value'],
      [{ key: 'k', value: 'AA==', ttl_ms: -1 }, "'ttl_ms' must be a non-negative integer"],
      [{ key: 'k', value: 'AA==', ttl_ms: 'soon' }, "'ttl_ms' must be a non-negative integer"],
    ]
    for (const [inner, message] of cases) {
      expect(await refusal(() => clientA.request('PUT', '/kms/data', inner))).toEqual({ status: 400, code: 'bad_request', message })
    }
    const oversized = Buffer.alloc(MIB + 1, 7).toString('base64')
    expect(await refusal(() => clientA.request('PUT', '/kms/data', { key: 'big', value: oversized }))).toEqual({ status: 400, code: 'bad_request', message: `Value size exceeds limit ${MIB}` })
    expect(await refusal(() => clientA.request('GET', '/kms/data?key='))).toEqual({ status: 400, code: 'bad_request', message: "Invalid 'key'" })
    expect(text((await clientA.getData('keep-me')).value)).toBe('still here')
  })

  it('behavior: a value of exactly 1 MiB is accepted; its charge is plaintext + 28 + key + per-record overhead (conformance 57, 58; §6.4)', async () => {
    const before = (await node.status()).data_store
    const value = cryptoRandom.bytes(MIB)
    await appA.client(node).then((client) => client.putData('one-mib', value))
    const after = (await node.status()).data_store
    // One clock entry: this node is the only writer.
    expect(after.total_bytes - before.total_bytes).toBe(MIB + 28 + keyBytes('one-mib') + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES)
    expect(Buffer.from((await clientA.getData('one-mib')).value).equals(Buffer.from(value))).toBe(true)
  })

  it('error: a body over the limit is 413 and changes nothing', async () => {
    const keys = await clientA.listData()
    const response = await answerForDeclaredLength(`${node.url}/kms/data`, { method: 'PUT', length: 3 * MIB + 1 })
    expect(response.status).toBe(413)
    expect(await clientA.listData()).toEqual(keys)
  })

  it('behavior: /status.data_store matches what was stored', async () => {
    const listA = await clientA.listData()
    const listB = await clientB.listData()
    const { data_store } = await node.status()
    expect(data_store.namespaces).toBe(2)
    expect(data_store.total_keys).toBe(listA.length + listB.length)
    // §6.4: ciphertext (plaintext + 28) + key bytes + overhead + one clock entry per record;
    // the tombstone of app A's deleted 'b-key' is charged too, without ciphertext.
    const overhead = RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES
    let expectedBytes = keyBytes('b-key') + overhead
    for (const [client, keys] of [[clientA, listA], [clientB, listB]] as const) {
      for (const key of keys) expectedBytes += (await client.getData(key)).value.length + 28 + keyBytes(key) + overhead
    }
    expect(data_store.total_bytes).toBe(expectedBytes)
  })

  it('behavior: restarting the isolate loses the data, by design (README: data is in memory)', async () => {
    await clientA.putData('ephemeral', bytes('gone after restart'))
    await node.stop()
    // A restarted enclave is a new instance: new wallet, new teePubkey, registered again.
    node = await startReadyNode()
    const client = await appA.client(node)
    expect(await client.listData()).toEqual([])
    expect(await refusal(() => client.getData('ephemeral'))).toEqual({ status: 404, code: 'not_found', message: 'Key not found: ephemeral' })
  })
})
