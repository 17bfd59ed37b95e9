/**
 * `/status.node.tee_pubkey` is the teePubkey exactly as the node's registry entry holds it
 * (issue 11, RUNTIME.md §1): the runtime's client compares it with the registry bytes as
 * case-sensitive lowercase hex, so a node registered with a SEC1 key must print SEC1, and one
 * registered with DER must print DER.
 */
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToHex, parseHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { startMiniflareNode, tickUntil, type TestNode } from '../helpers/kmsNodes'

let chain: DevChain
const nodes: TestNode[] = []

beforeAll(async () => {
  chain = await startDevChain()
})

afterAll(async () => {
  for (const node of nodes) await node.stop()
  await chain?.stop()
})

describe('/status identity as the registry holds it', () => {
  it('behavior: before registration the helper DER is printed; after, the registered SEC1 bytes', async () => {
    const node = await startMiniflareNode(chain, { MASTER_SECRET_HEX: '11'.repeat(32) })
    nodes.push(node)
    const before = (await node.status()).node
    const der = parseHex(before.tee_pubkey)!
    expect(der).toHaveLength(120)
    // A P-384 SPKI ends with the 97-byte uncompressed SEC1 point.
    const sec1 = der.slice(der.length - 97)
    expect(sec1[0]).toBe(4)
    await chain.fund(before.tee_wallet as Address)
    await chain.registerInstance({ teeWalletAddress: before.tee_wallet as Address, teePubkey: `0x${bytesToHex(sec1)}` as Hex, instanceUrl: node.url, zkVerified: true })
    const after = await tickUntil(node, (status) => status.node.service_available)
    expect(after.node.tee_pubkey).toBe(bytesToHex(sec1))
    expect(after.node.tee_pubkey).toMatch(/^04[0-9a-f]{192}$/)
  })
})
