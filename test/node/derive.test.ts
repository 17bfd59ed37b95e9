/**
 * The same derive flow against `node dist/kms.mjs` as a child process (issue 3): the one
 * bundle serves HTTP under Node, drives its own ticks, and answers exactly as in workerd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KmsClientError } from '../../core/client'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { registerKmsNode, registerTestApp, startProcessNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'

let chain: DevChain
let node: TestNode
let app: TestApp

beforeAll(async () => {
  chain = await startDevChain()
  node = await startProcessNode(chain, { KMS_NODE_TICK_SECONDS: '1' })
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available, { attempts: 40, delayMs: 500 })
  app = await registerTestApp(chain)
})

afterAll(async () => {
  await node?.stop()
  await chain?.stop()
})

describe('derive under Node over dist/kms.mjs', () => {
  it('behavior: a registered app derives the same key twice over real HTTP', async () => {
    const client = await app.client(node, { fetch: (input, init) => fetch(input, init) })
    const first = await client.derive({ path: 'wallet/root', context: 'node' })
    const second = await client.derive({ path: 'wallet/root', context: 'node' })
    expect(first.appId).toBe(app.appId)
    expect(bytesToHex(first.key)).toBe(bytesToHex(second.key))
    const status = await node.status()
    expect(status.node.master_secret.state).toBe('generated')
  })

  it('error: a stopped instance gets 403 Instance not active', async () => {
    const stopped = await registerTestApp(chain)
    await chain.setInstanceStatus(stopped.instanceId, 1)
    const client = await stopped.client(node, { fetch: (input, init) => fetch(input, init) })
    const failure = await client.derive({ path: 'p' }).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(KmsClientError)
    // A refusal before authentication cannot be bound (PROTOCOL §3.5): the SDK reports it as
    // unbound, with what the node claimed.
    expect((failure as KmsClientError).code).toBe('unbound_response')
    expect((failure as KmsClientError).unverified).toEqual({ status: 403, code: 'unauthorized', message: 'Instance not active' })
  })

  it('behavior: headers of 32 KiB are accepted (an attestation document must fit, §3.2.2)', async () => {
    const response = await fetch(`${node.url}/health`, { headers: { 'x-padding': 'a'.repeat(32 * 1024) } })
    expect(response.status).toBe(200)
  })
})
