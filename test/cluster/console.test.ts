/**
 * The cluster console (`nova-kms cluster`, issue 19) run as an operator runs it: the built
 * `dist/cli.mjs` against the real contracts on anvil and KMS nodes (`dist/kms.mjs` in
 * Miniflare). A healthy cluster exits 0; a stopped node, a node holding the wrong secret and
 * a hostile host answering at a registered URL are each reported, and the exit is 1; a chain
 * that cannot be read gives no verdict (exit 2).
 */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterReport, NodeReport } from '../../bundle/cluster/assessCluster'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, parseHex, type Wallet } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import type { TestNode } from '../helpers/kmsNodes'
import { addMiniflareMember, startMiniflareCluster } from '../helpers/miniflareCluster'

const MASTER_SECRET_HEX = '3c'.repeat(32)
/** Another secret: a node preloaded with it holds a secret the chain does not commit. */
const WRONG_SECRET_HEX = '5a'.repeat(32)
const CLI = 'dist/cli.mjs'

let chain: DevChain
const nodes: { node: TestNode; wallet: Wallet; stopped: boolean }[] = []
let hostile: Server

async function addNode(overrides: Record<string, string> = {}): Promise<{ node: TestNode; wallet: Wallet; stopped: boolean }> {
  return { ...(await addMiniflareMember(chain, overrides)), stopped: false }
}

/** Runs the console (asynchronously: the Miniflare nodes live in this process and must keep answering). */
function runConsole(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'cluster', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

const chainFlags = (): string[] => ['--rpc-url', chain.rpcUrl, '--kms-registry', chain.addresses.kmsRegistry]

async function report(extra: string[] = []): Promise<{ code: number; report: ClusterReport }> {
  const run = await runConsole([...chainFlags(), '--json', ...extra])
  expect(run.stderr).toBe('')
  return { code: run.code, report: JSON.parse(run.stdout) as ClusterReport }
}

function nodeAt(clusterReport: ClusterReport, url: string): NodeReport {
  const found = clusterReport.nodes.find((node) => node.url === url)
  if (found === undefined) throw new Error(`the console does not show ${url}`)
  return found
}

/**
 * A host answering at a registered URL: `/status` streams without end (until the console
 * hangs up, or 64 MiB), `/metrics` never answers, `/kms/ca` is a 404.
 */
function startHostileHost(): Promise<string> {
  hostile = createServer((request, response) => {
    if (request.url === '/status') {
      response.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      let sent = 0
      const pump = (): void => {
        while (!response.destroyed && sent < 1024 && response.write(chunk)) sent++
        if (response.destroyed || sent >= 1024) response.end()
      }
      response.on('drain', pump)
      pump()
    } else if (request.url === '/metrics') {
      // Never answered; the console's deadline ends it, and closing the server frees it.
      request.on('close', () => response.destroy())
    } else {
      response.writeHead(404).end()
    }
  })
  return new Promise((resolve) => hostile.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(hostile.address() as AddressInfo).port}`)))
}

beforeAll(async () => {
  chain = await startDevChain()
  for (const member of await startMiniflareCluster(chain, { size: 3, masterSecretHex: MASTER_SECRET_HEX })) nodes.push({ ...member, stopped: false })
}, 300_000)

afterAll(async () => {
  for (const member of nodes) if (!member.stopped) await member.node.stop()
  await new Promise((resolve) => (hostile === undefined ? resolve(undefined) : hostile.close(resolve)))
  hostile?.closeAllConnections()
  await chain?.stop()
})

describe('the cluster console', () => {
  it('behavior: a healthy 3-node cluster: every column filled, the same CA everywhere, exit 0', async () => {
    const { code, report: healthy } = await report()
    expect(healthy.attention).toEqual([])
    expect(healthy.nodes.map((node) => node.attention)).toEqual([[], [], []])
    expect(code).toBe(0)
    expect(healthy.kms_app_id).toBe(49)
    const chainHash = `0x${bytesToHex(keccak_256(parseHex(MASTER_SECRET_HEX)!))}`
    expect(healthy.live_epochs).toEqual([{ epoch: 0, hash: chainHash }])
    for (const [index, node] of healthy.nodes.entries()) {
      expect(node.url).toBe(nodes[index]!.node.url)
      expect(node.wallet).toBe(nodes[index]!.wallet)
      expect(node.version).toMatchObject({ id: 1, status: 'ENROLLED' })
      expect(node.ready).toEqual({ available: true, reason: '' })
      expect(node.secrets).toEqual([{ epoch: 0, chain_hash: chainHash, node_hash: chainHash, check: 'match' }])
      expect(node.peers).toEqual({ seen: 3, listed: 3 })
      expect(node.operator).toBe(true)
      expect(node.sync_pushes).not.toBeNull()
    }
    const fingerprints = new Set(healthy.nodes.map((node) => node.ca?.fingerprint))
    expect(fingerprints.size).toBe(1)
    expect([...fingerprints][0]).toMatch(/^[0-9a-f]{64}$/)

    const table = await runConsole(chainFlags())
    expect(table.code).toBe(0)
    const lines = table.stdout.split('\n')
    expect(lines[0]).toBe(`KMSRegistry ${chain.addresses.kmsRegistry.toLowerCase()} · KMS app 49 · current epoch 0 · committed e0 ${chainHash.slice(0, 10)}…`)
    expect(lines[2]).toMatch(/^NODE +WALLET +VERSION +READY +SECRET +PEERS +SYNC +OPERATOR +CA$/)
    for (const member of nodes) {
      expect(lines.find((line) => line.startsWith(`${member.node.url} `))).toMatch(/ v1 ENROLLED .* yes +e0 ok +3\/3 .* yes +[0-9a-f]{16}…$/)
    }
    expect(lines.at(-2)).toBe('all 3 node(s) healthy')
  })

  it('error: a stopped node, a node with the wrong secret and a hostile host at a registered URL are each named; exit 1', async () => {
    const wrong = await addNode({ MASTER_SECRET_HEX: WRONG_SECRET_HEX })
    nodes.push(wrong)
    await wrong.node.tick('node_tick')
    const hostileUrl = await startHostileHost()
    const hostileWallet = '0x000000000000000000000000000000000000c0de' as Wallet
    await chain.registerInstance({ teeWalletAddress: hostileWallet, instanceUrl: hostileUrl })
    const stopped = nodes[2]!
    await stopped.node.stop()
    stopped.stopped = true
    for (const member of nodes.slice(0, 2)) await member.node.tick('node_tick')

    const { code, report: troubled } = await report(['--timeout-ms', '2000'])
    expect(code).toBe(1)
    expect(troubled.healthy).toBe(false)
    expect(troubled.nodes).toHaveLength(5)

    const down = nodeAt(troubled, stopped.node.url)
    expect(down.attention).toHaveLength(1)
    expect(down.attention[0]).toMatch(/^unreachable: cannot reach http:\/\/127\.0\.0\.1:\d+\/status: fetch failed \(ECONNREFUSED\)$/)
    expect(down.ready.available).toBeNull()
    expect(down.secrets.map((row) => row.check)).toEqual(['unknown'])

    const wrongHash = `0x${bytesToHex(keccak_256(parseHex(WRONG_SECRET_HEX)!))}`
    const mismatched = nodeAt(troubled, wrong.node.url)
    expect(mismatched.secrets).toEqual([{ epoch: 0, chain_hash: troubled.live_epochs[0]!.hash, node_hash: wrongHash, check: 'mismatch' }])
    expect(mismatched.attention).toContain(`epoch 0: holds a secret hashing to ${wrongHash.slice(0, 10)}…, the chain commits ${troubled.live_epochs[0]!.hash.slice(0, 10)}…`)
    expect(mismatched.ready.available).toBe(false)
    expect(mismatched.attention.some((text) => text.startsWith('not serving: '))).toBe(true)

    const host = nodeAt(troubled, hostileUrl)
    expect(host.wallet).toBe(hostileWallet)
    expect(host.attention).toEqual([`unreachable: ${hostileUrl}/status answered more than 262144 bytes`])

    for (const member of nodes.slice(0, 2)) {
      const healthy = nodeAt(troubled, member.node.url)
      expect(healthy.secrets.map((row) => row.check), 'the nodes with the right secret still match').toEqual(['match'])
      expect(healthy.ready.available).toBe(true)
    }

    const table = await runConsole([...chainFlags(), '--timeout-ms', '2000'])
    expect(table.code).toBe(1)
    expect(table.stdout).toContain(`\nneeds attention:\n`)
    expect(table.stdout).toContain(`  ${stopped.node.url}: unreachable: `)
    expect(table.stdout).toContain(`  ${wrong.node.url}: epoch 0: holds a secret hashing to ${wrongHash.slice(0, 10)}…`)
    expect(table.stdout.split('\n').find((line) => line.startsWith(`${wrong.node.url} `))).toContain(' e0 MISMATCH ')
    expect(table.stdout).toMatch(/\n\d of 5 node\(s\) need attention\n$/)
  }, 120_000)

  it('error: a chain that cannot be read gives no verdict (exit 2), nor does a bad flag', async () => {
    const unreadable = await runConsole(['--rpc-url', 'http://127.0.0.1:9', '--kms-registry', chain.addresses.kmsRegistry, '--timeout-ms', '1000'])
    expect(unreadable.code).toBe(2)
    expect(unreadable.stdout).toBe('')
    expect(unreadable.stderr).toMatch(/^nova-kms cluster: cannot read KMSRegistry\.novaAppRegistry\(\) from the chain: /)
    for (const args of [[], ['--rpc-url', chain.rpcUrl, '--kms-registry', 'not-an-address'], [...chainFlags(), '--timeout-ms', 'soon'], [...chainFlags(), '--bogus']]) {
      const usage = await runConsole(args)
      expect(usage.code, args.join(' ')).toBe(2)
      expect(usage.stderr).toMatch(/^nova-kms cluster: .*\nUsage: nova-kms cluster /)
    }
  })
})
