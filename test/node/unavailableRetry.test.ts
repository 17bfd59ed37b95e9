/**
 * An unavailable node retries node_tick every 5 s (PROTOCOL §7.1, addition 2026-12), whatever
 * its KMS_NODE_TICK_SECONDS: a node registered after it booted serves within seconds, not
 * after its 60 s interval. Driven on `node dist/kms.mjs` with the default interval.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { waitUntil } from '../../bundle/processes'
import { UNAVAILABLE_RETRY_SECONDS } from '../../core/cluster'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { registerKmsNode, startProcessNode, type TestNode } from '../helpers/kmsNodes'

let chain: DevChain
let node: TestNode

beforeAll(async () => {
  chain = await startDevChain()
  node = await startProcessNode(chain, { MASTER_SECRET_HEX: '2e'.repeat(32) }) // KMS_NODE_TICK_SECONDS: 60
})

afterAll(async () => {
  await node?.stop()
  await chain?.stop()
})

it('behavior: registered after boot, the node becomes available on a retry, long before its 60 s interval', async () => {
  // The first tick ran at boot, before the registration: not in the list yet.
  await waitUntil('first tick', async () => ((await node.status()).node.unavailable_reason === 'self not in KMS node list' ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 50,
  })
  const registeredAt = Date.now()
  await registerKmsNode(chain, node)
  const status = await waitUntil('service_available', async () => {
    const current = await node.status()
    return current.node.service_available ? current : undefined
  }, { timeoutMs: 30_000, intervalMs: 100 })
  const waitedS = (Date.now() - registeredAt) / 1000
  expect(status.node.unavailable_reason).toBe('')
  // One retry period plus the timer's granularity and the tick itself, far below 60 s.
  expect(waitedS).toBeLessThan(UNAVAILABLE_RETRY_SECONDS + 10)
})
