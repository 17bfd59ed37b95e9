/**
 * The audit log on a 3-node devnet (issue 19, PROTOCOL §14), over `dist/kms.mjs` in Miniflare
 * with the real contracts on anvil: an app's releases appear in its own chain on the node that
 * served them, in order, verified by the SDK; another app sees none of them and its own
 * sequence has no gap; tampering is detected; the cluster chain shows the joins.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditVerificationError, verifyAuditPage, type KmsClient } from '../../core/client'
import { parseHex, type Wallet } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { registerTestApp, type TestApp, type TestNode } from '../helpers/kmsNodes'
import { startMiniflareCluster } from '../helpers/miniflareCluster'

const MASTER_SECRET_HEX = '3c'.repeat(32)

let chain: DevChain
const nodes: { node: TestNode; wallet: Wallet }[] = []
let appA: TestApp
let appB: TestApp

async function identityOf(node: TestNode): Promise<{ wallet: Wallet; teePubkeyDer: Uint8Array }> {
  const { node: self } = await node.status()
  return { wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! }
}

beforeAll(async () => {
  chain = await startDevChain()
  nodes.push(...(await startMiniflareCluster(chain, { size: 3, masterSecretHex: MASTER_SECRET_HEX })))
  appA = await registerTestApp(chain)
  appB = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  for (const member of nodes) await member.node.stop()
  await chain?.stop()
})

describe('the audit log on a 3-node devnet', () => {
  it('behavior: derive, put, get, list, delete and sign_cert appear in order on the node that served them; reads are not logged; secrets never appear', async () => {
    const served = nodes[1]!.node
    const client: KmsClient = await appA.client(served)
    const derived = await client.derive({ path: 'disk', context: 'volume-1', length: 32 })
    await client.putData('api-token', new TextEncoder().encode('s3cret-value'))
    await client.getData('api-token')
    await client.listData()
    await client.deleteData('api-token')
    const dir = mkdtempSync(join(tmpdir(), 'audit-csr-'))
    execFileSync('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', 'k.pem', '-out', 'r.csr', '-subj', '/CN=x'], { cwd: dir, stdio: 'ignore' })
    const certificate = await client.signCert(readFileSync(join(dir, 'r.csr'), 'utf8'))
    // A refused request is not logged.
    await expect(client.derive({ path: 'disk', length: 5000 })).rejects.toMatchObject({ status: 400 })

    const page = await client.audit({ appId: appA.appId })
    expect(page.entries.map((entry) => entry.op)).toEqual(['derive', 'data_put', 'data_get', 'data_list', 'data_delete', 'sign_cert'])
    expect(page.entries.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(page.entries[0]).toMatchObject({ path: 'disk', context: 'volume-1', length: 32, epoch: { cluster: 0, app: 0 }, app_id: appA.appId })
    expect(page.entries[1]).toMatchObject({ key: 'api-token' })
    expect(page.entries[5]).toMatchObject({ serial: certificate['serial'] })
    expect(page.head).toMatchObject({ seq: 6, dropped: 0 })
    // Reading the log did not add to it.
    const again = await client.audit({ appId: appA.appId, previous: page.cursor })
    expect(again).toMatchObject({ entries: [], continuity: { kind: 'continued' } })
    // Neither the value nor the derived key is anywhere in the answer.
    const raw = JSON.stringify(await client.request('GET', '/kms/audit'))
    expect(raw).not.toContain('s3cret-value')
    expect(raw).not.toContain(Buffer.from('s3cret-value').toString('base64'))
    expect(raw).not.toContain(Buffer.from(derived.key).toString('base64'))

    // The other nodes served nothing for app A.
    for (const other of [nodes[0]!.node, nodes[2]!.node]) {
      expect((await (await appA.client(other)).audit({ appId: appA.appId })).head.seq).toBe(0)
    }
    // A later operation continues the chain from the cursor.
    await client.derive({ path: 'disk', context: 'volume-2' })
    const next = await client.audit({ appId: appA.appId, previous: page.cursor })
    expect(next.continuity).toEqual({ kind: 'continued' })
    expect(next.entries.map((entry) => [entry.seq, entry.op])).toEqual([[7, 'derive']])
  })

  it('behavior: a second app sees none of them, and its own sequence has no gap', async () => {
    const client = await appB.client(nodes[1]!.node)
    await client.derive({ path: 'b-only' })
    await client.putData('b-key', new Uint8Array([1]))
    const page = await client.audit({ appId: appB.appId })
    expect(page.entries.map((entry) => [entry.seq, entry.op, entry.app_id])).toEqual([
      [1, 'derive', appB.appId],
      [2, 'data_put', appB.appId],
    ])
    expect(JSON.stringify(page.entries)).not.toContain('api-token')
  })

  it('error: a tampered or truncated chain is detected', async () => {
    const client = await appA.client(nodes[1]!.node)
    const identity = await identityOf(nodes[1]!.node)
    const raw = (await client.request('GET', '/kms/audit')) as { entries: { key?: string }[] }
    const verify = (page: unknown): string => {
      try {
        verifyAuditPage({ page, appId: appA.appId, since: 0, node: identity })
        return 'verified'
      } catch (error) {
        return error instanceof AuditVerificationError ? error.code : String(error)
      }
    }
    expect(verify(raw)).toBe('verified')
    const tampered = structuredClone(raw)
    tampered.entries[1]!.key = 'innocent-key'
    expect(verify(tampered)).toBe('hash_mismatch')
    const truncated = structuredClone(raw)
    truncated.entries.pop()
    expect(verify(truncated)).toBe('truncated')
    // The page signed by node 1 does not pass as node 2's.
    const otherIdentity = await identityOf(nodes[2]!.node)
    expect(() => verifyAuditPage({ page: raw, appId: appA.appId, since: 0, node: otherIdentity })).toThrow(/bad_signature/)
  })

  it('behavior: /audit/cluster on node 1 shows the secret it sent to each joiner, signed by node 1', async () => {
    const response = await nodes[0]!.node.fetch('/audit/cluster')
    expect(response.status).toBe(200)
    const page = verifyAuditPage({ page: await response.json(), appId: 'cluster', since: 0, node: await identityOf(nodes[0]!.node) })
    const sent = page.entries.filter((entry) => entry.op === 'secret_sent').map((entry) => (entry as { peer: Wallet }).peer)
    expect(new Set(sent)).toEqual(new Set([nodes[1]!.wallet, nodes[2]!.wallet]))
    expect(page.entries.some((entry) => entry.op === 'epoch_serving')).toBe(true)
    const joiner = verifyAuditPage({ page: await (await nodes[1]!.node.fetch('/audit/cluster')).json(), appId: 'cluster', since: 0, node: await identityOf(nodes[1]!.node) })
    expect(joiner.entries.filter((entry) => entry.op === 'secret_sent')).toEqual([])
    expect((await nodes[0]!.node.fetch('/audit/cluster?since=x')).status).toBe(400)
  })
})
