/**
 * RUNTIME.md §1 caches and identity binding, with an injected clock: the node list lives
 * 60 s, a reachable probe 30 s, an unreachable one 10 s, an identity 30 s.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { IDENTITY_TTL_MS, NODE_LIST_TTL_MS, NodeDirectory, REACHABLE_TTL_MS, UNREACHABLE_TTL_MS } from '../../../core/client'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { FakeKmsNode, FakeNetwork } from '../_fakeKmsNodes'

let clock: FakeClock
let network: FakeNetwork
let nodes: FakeKmsNode[]
let discoveries: number

function directory(): NodeDirectory {
  return new NodeDirectory({
    discover: async () => {
      discoveries++
      return nodes.map((node) => node.identity)
    },
    clock,
    fetch: network.fetch,
    timeoutMs: 50,
  })
}

const statusProbes = (node: FakeKmsNode): number => node.calls('/status').length

beforeEach(async () => {
  clock = new FakeClock(1_767_225_600_000)
  const random = seededRandom(7)
  nodes = [await FakeKmsNode.create('http://127.0.0.1:9001', random), await FakeKmsNode.create('http://127.0.0.1:9002', random)]
  network = new FakeNetwork().add(...nodes)
  discoveries = 0
})

describe('NodeDirectory', () => {
  it('behavior: the node list is cached 60 s', async () => {
    const subject = directory()
    await subject.nodes()
    clock.ms += NODE_LIST_TTL_MS - 1
    await subject.nodes()
    expect(discoveries).toBe(1)
    clock.ms += 1
    await subject.nodes()
    expect(discoveries).toBe(2)
  })

  it('behavior: a reachable node with the registry identity is probed once per 30 s', async () => {
    const subject = directory()
    expect((await subject.candidates()).map((node) => node.url)).toEqual(nodes.map((node) => node.url))
    clock.ms += Math.min(REACHABLE_TTL_MS, IDENTITY_TTL_MS) - 1
    await subject.candidates()
    expect(statusProbes(nodes[0]!)).toBe(1)
    clock.ms += 1
    await subject.candidates()
    expect(statusProbes(nodes[0]!)).toBe(2)
  })

  it('behavior: an unreachable node is left out for 10 s, then probed again', async () => {
    nodes[0]!.mode = 'down'
    const subject = directory()
    expect((await subject.candidates()).map((node) => node.url)).toEqual([nodes[1]!.url])
    nodes[0]!.mode = 'ok'
    clock.ms += UNREACHABLE_TTL_MS - 1
    expect(await subject.candidates()).toHaveLength(1)
    clock.ms += 1
    expect(await subject.candidates()).toHaveLength(2)
  })

  it('behavior: if every probe fails, every discovered node is still a candidate', async () => {
    for (const node of nodes) node.mode = 'down'
    expect((await directory().candidates()).map((node) => node.url)).toEqual(nodes.map((node) => node.url))
  })

  it('behavior: a node whose /status names another key is never a candidate (uppercase hex included)', async () => {
    nodes[1]!.statusPubkey = Buffer.from(nodes[1]!.teeKey.publicKey.der).toString('hex').toUpperCase()
    expect((await directory().candidates()).map((node) => node.url)).toEqual([nodes[0]!.url])
  })

  it('behavior: invalidateIdentity makes the next use read /status again', async () => {
    const subject = directory()
    await subject.candidates()
    subject.invalidateIdentity(nodes[0]!.identity)
    await subject.candidates()
    expect(statusProbes(nodes[0]!)).toBe(2)
    expect(statusProbes(nodes[1]!)).toBe(1)
  })

  it('behavior: markUnreachable leaves a node out for 10 s', async () => {
    const subject = directory()
    await subject.candidates()
    subject.markUnreachable(nodes[0]!.identity)
    expect((await subject.candidates()).map((node) => node.url)).toEqual([nodes[1]!.url])
    clock.ms += UNREACHABLE_TTL_MS
    expect(await subject.candidates()).toHaveLength(2)
  })

  it('behavior: a /status that hangs past the timeout counts as unreachable', async () => {
    const hanging = { ...network, fetch: async (input: RequestInfo | URL, init?: RequestInit) => (String(input).includes(':9001') ? new Promise<Response>(() => undefined) : network.fetch(input, init)) }
    const subject = new NodeDirectory({ discover: async () => nodes.map((node) => node.identity), clock, fetch: hanging.fetch, timeoutMs: 30 })
    expect((await subject.candidates()).map((node) => node.url)).toEqual([nodes[1]!.url])
  })

  it('behavior: refresh re-reads the registry and re-probes every node', async () => {
    const subject = directory()
    await subject.candidates()
    await subject.refresh()
    expect(discoveries).toBe(2)
    expect(statusProbes(nodes[0]!)).toBe(2)
  })
})
