/**
 * `KMS_NODE_CRYPTO_WORKERS` on real `node dist/kms.mjs` processes (issue 14): a node with two
 * secp256k1 worker threads and a node with none (inline, the old behaviour), same master
 * secret, both on anvil. Through the SDK, with binding v1 (counter-signature) and v2
 * (response binding), both derive the same keys; a bad PoP signature gets the same 403 from
 * both; only the first runs two more threads; and a value written on either node reaches the
 * other through `/sync`, whose peer PoP the pooled node recovers on its workers.
 */
import { readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnKmsNode } from '../../bundle/processes'
import type { KmsClient } from '../../core/client'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import {
  assertBundleBuilt,
  clientFor,
  nodeEnvironment,
  processTestNode,
  registerKmsNode,
  registerTestApp,
  tickUntil,
  type TestApp,
  type TestNode,
} from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '4c'.repeat(32)

interface StartedNode {
  node: TestNode
  pid: number
  /** The `listening` log line's fields. */
  listening: Record<string, unknown>
}

let chain: DevChain
let app: TestApp
const nodes: Record<'pooled' | 'inline', StartedNode> = {} as Record<'pooled' | 'inline', StartedNode>

async function startNode(workers: string): Promise<StartedNode> {
  let listening: Record<string, unknown> | undefined
  const spawned = await spawnKmsNode({
    env: nodeEnvironment(chain, { LOG_LEVEL: 'INFO', KMS_NODE_TICK_SECONDS: '1', MASTER_SECRET_HEX, KMS_NODE_CRYPTO_WORKERS: workers }),
    onOutput: (line) => {
      if (line.includes('"msg":"listening"')) listening = JSON.parse(line) as Record<string, unknown>
    },
  })
  const node = processTestNode(spawned)
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available, { attempts: 60, delayMs: 500 })
  return { node, pid: spawned.pid, listening: listening ?? {} }
}

function threadCount(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length
}

function clientOf(node: TestNode, bindingVersion: 1 | 2): Promise<KmsClient> {
  return clientFor(node, { walletKey: app.walletKey, teeKey: app.teeKey, bindingVersion, fetch })
}

beforeAll(async () => {
  assertBundleBuilt()
  chain = await startDevChain()
  nodes.pooled = await startNode('2')
  nodes.inline = await startNode('0')
  app = await registerTestApp(chain)
})

afterAll(async () => {
  await nodes.pooled?.node.stop()
  await nodes.inline?.node.stop()
  await chain?.stop()
})

describe('KMS_NODE_CRYPTO_WORKERS under Node over dist/kms.mjs', () => {
  it('behavior: the node says how many workers it started; the pooled one runs at least two more threads', () => {
    expect(nodes.pooled.listening['crypto_workers']).toBe(2)
    expect(nodes.inline.listening['crypto_workers']).toBe(0)
    expect(threadCount(nodes.pooled.pid)).toBeGreaterThanOrEqual(threadCount(nodes.inline.pid) + 2)
  })

  it('behavior: with and without workers, v1 and v2 derives verify and give the same keys', async () => {
    const keys: Record<string, string[]> = {}
    for (const [name, { node }] of Object.entries(nodes)) {
      for (const version of [1, 2] as const) {
        const client = await clientOf(node, version)
        // Concurrent derives, so several PoP recoveries and answer signatures are in the pool at once.
        const derived = await Promise.all(Array.from({ length: 12 }, (_, index) => client.derive({ path: `pool/${index % 3}`, context: 'workers' })))
        keys[`${name} v${version}`] = derived.map((result) => bytesToHex(result.key))
        for (const result of derived) expect(result.appId).toBe(app.appId)
      }
    }
    const reference = keys['inline v1']!
    expect(new Set(reference).size).toBe(3)
    for (const found of Object.values(keys)) expect(found).toEqual(reference)
  })

  it('behavior: a value put on either node is read from the other, carried by /sync in both directions', async () => {
    const pooled = await clientOf(nodes.pooled.node, 2)
    const inline = await clientOf(nodes.inline.node, 2)
    const stamp = String(Date.now())
    await inline.putData('to-pooled', new TextEncoder().encode(`from inline ${stamp}`))
    await pooled.putData('to-inline', new TextEncoder().encode(`from pooled ${stamp}`))
    const readEventually = async (client: KmsClient, key: string): Promise<string> => {
      for (let attempt = 0; attempt < 60; attempt++) {
        const found = await client.getData(key).then(
          (answer) => new TextDecoder().decode(answer.value),
          () => undefined,
        )
        if (found !== undefined) return found
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      throw new Error(`${key} never arrived`)
    }
    expect(await readEventually(pooled, 'to-pooled')).toBe(`from inline ${stamp}`)
    expect(await readEventually(inline, 'to-inline')).toBe(`from pooled ${stamp}`)
  })

  it('error: a bad PoP signature gets the same 403 body from the pooled and the inline node', async () => {
    const answers: unknown[] = []
    for (const { node } of Object.values(nodes)) {
      for (const signature of ['0x' + '00'.repeat(64) + '1b', '0x' + '11'.repeat(64) + '1d', '0x' + '00'.repeat(31) + '05' + '00'.repeat(31) + '01' + '1b']) {
        const { nonce } = (await (await node.fetch('/nonce')).json()) as { nonce: string }
        const response = await node.fetch('/kms/derive', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-app-signature': signature,
            'x-app-nonce': nonce,
            'x-app-timestamp': String(Math.floor(Date.now() / 1000)),
          },
          body: '{}',
        })
        answers.push({ signature, status: response.status, body: await response.json() })
      }
    }
    const [first, second] = [answers.slice(0, 3), answers.slice(3)]
    expect(second).toEqual(first)
    expect(first.map((answer) => (answer as { body: unknown }).body)).toEqual([
      { code: 'unauthorized', message: 'Invalid signature' },
      { code: 'unauthorized', message: 'Invalid signature format' },
      { code: 'unauthorized', message: 'Invalid signature' },
    ])
  })
})
