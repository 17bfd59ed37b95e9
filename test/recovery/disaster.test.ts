/**
 * Issue 15's disaster, end to end on anvil with the real contracts and `node dist/kms.mjs`:
 * three nodes under a 2-of-3 recovery policy publish the backup; an app's derived key, a KV
 * value and the CA are recorded; every node is killed; two fresh nodes with new wallets are
 * registered; custodians 1 and 3 run the real CLI (`nova-kms custodian recover`, through
 * tsx) against one of them. Checked on the way: one share is not enough, a node whose
 * registration or measurement is wrong receives nothing (the CLI refuses with the reason,
 * the collector keeps its count), and a share that does not match its commitment is refused
 * with 400 without disturbing the shares collected.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient, http, type Address, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { loadArtifact } from '../../contracts/deploy/artifacts'
import { connect } from '../../contracts/deploy/clients'
import { proposeRecoveryPolicy, readPolicyProposal, toPolicyCustodian } from '../../contracts/deploy/recoveryPolicy'
import { writeAndWait } from '../../contracts/deploy/transact'
import { encryptKeyFile, generateCustodianKeys, type CustodianKeys } from '../../bundle/custodian/keyFile'
import { createChainReaders, createKmsRecoveryReader, createRpcClient } from '../../core/chain'
import { bytesToHex, parseHex, type Wallet } from '../../core/encoding'
import { buildRecoveryShareSubmission, openRecoveryShare } from '../../core/recovery'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { cryptoRandom, refusal, registerKmsNode, registerTestApp, startProcessNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TSX = join(ROOT, 'node_modules/.bin/tsx')
const PASSPHRASE = 'disaster test passphrase'
const NODE_ENV = {
  KMS_NODE_TICK_SECONDS: '1',
  DATA_SYNC_INTERVAL_SECONDS: '1',
  PEER_CACHE_TTL_SECONDS: '2',
  REGISTRY_CACHE_TTL_SECONDS: '2',
}
/** Bounded waits: a process node ticks every second; 90 half-second polls is ample. */
const WAIT = { attempts: 90 }

const scratch = mkdtempSync(join(tmpdir(), 'nova-disaster-'))
const passphraseFile = join(scratch, 'passphrase.txt')
let chain: DevChain
const nodes: TestNode[] = []
const custodians: { keys: CustodianKeys; file: string }[] = []

function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, ['bundle/cli.ts', 'custodian', ...args], { cwd: ROOT, timeout: 120_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

function recover(node: TestNode, custodian: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = join(scratch, 'dev-root.pem')
  return cli(['recover', '--node', node.url, '--rpc', chain.rpcUrl, '--kms-registry', chain.addresses.kmsRegistry, '--app-registry', chain.addresses.novaAppRegistry, '--root', root, '--key', custodians[custodian - 1]!.file, '--passphrase-file', passphraseFile])
}

async function start(overrides: Record<string, string> = {}): Promise<TestNode> {
  const node = await startProcessNode(chain, { ...NODE_ENV, ...overrides })
  nodes.push(node)
  return node
}

async function caBytes(node: TestNode): Promise<string> {
  const response = await node.fetch('/kms/ca')
  expect(response.status).toBe(200)
  return response.text()
}

const awaiting = (received: number) => `awaiting recovery shares (${received}/2)`

beforeAll(async () => {
  chain = await startDevChain()
  writeFileSync(passphraseFile, `${PASSPHRASE}\n`)
  const { devRootCertificateDer } = await import('../../core/tee')
  const { bytesToBase64 } = await import('../../core/encoding')
  writeFileSync(join(scratch, 'dev-root.pem'), `-----BEGIN CERTIFICATE-----\n${bytesToBase64(devRootCertificateDer()).replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`)
  for (let index = 1; index <= 3; index++) {
    const keys = await generateCustodianKeys(cryptoRandom)
    const file = join(scratch, `custodian-${index}.json`)
    // A small scrypt N: the file format is under test elsewhere; here the recovery is.
    writeFileSync(file, await encryptKeyFile({ keys, passphrase: PASSPHRASE, random: cryptoRandom, scrypt: { N: 2 ** 10, r: 8, p: 1 } }))
    custodians.push({ keys, file })
  }
  const owner = connect({ rpcUrl: chain.rpcUrl, privateKey: chain.ownerKey })
  await writeAndWait(owner, {
    address: chain.addresses.kmsRegistry,
    abi: loadArtifact('KMSRegistry').abi,
    functionName: 'setInitialRecoveryPolicy',
    args: [custodians.map(({ keys }) => ({ sealingKey: `0x${bytesToHex(keys.sealingPublicKeyDer)}` as Hex, approver: keys.approver as Address })), 2],
  })
})

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop().catch(() => undefined)))
  await chain?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

describe('disaster: every node lost, custodians 1 and 3 of a 2-of-3 policy recover the cluster', () => {
  let app: TestApp
  let derivedBefore: string
  let caBefore: string
  let fresh: TestNode
  let joiner: TestNode

  test('behavior: three nodes publish the backup; keys and the CA are recorded', async () => {
    const [first, second, third] = [await start(), await start(), await start()]
    await registerKmsNode(chain, first!)
    await tickUntil(first!, (s) => s.node.service_available, WAIT)
    await registerKmsNode(chain, second!)
    await registerKmsNode(chain, third!)
    for (const node of [second!, third!]) await tickUntil(node, (s) => s.node.service_available, WAIT)

    const rpc = createRpcClient({ rpcUrl: chain.rpcUrl })
    const recovery = createKmsRecoveryReader({ rpc, address: chain.addresses.kmsRegistry as Wallet })
    const registry = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: chain.addresses.novaAppRegistry as Wallet, kmsRegistry: chain.addresses.kmsRegistry as Wallet }).kmsRegistry
    const hash = await registry.masterSecretHash()
    let backup
    for (let attempt = 0; attempt < WAIT.attempts && backup === undefined; attempt++) {
      backup = await recovery.backup(hash, 1)
      if (backup === undefined) await new Promise((resolve) => setTimeout(resolve, 500))
    }
    expect(backup?.shareCommitments).toHaveLength(3)

    app = await registerTestApp(chain)
    const sdk = await app.client(first!)
    derivedBefore = bytesToHex((await sdk.derive({ path: 'wallet/root' })).key)
    await sdk.putData('kept-in-memory', new TextEncoder().encode('lost in a disaster'))
    caBefore = await caBytes(first!)
    expect(await caBytes(third!)).toBe(caBefore)

    // Every node dies, by PID.
    for (const node of [first!, second!, third!]) {
      process.kill(node.pid!, 'SIGKILL')
      await node.stop().catch(() => undefined)
    }
  })

  test('behavior: two fresh nodes with new wallets, registered, await 2 shares', async () => {
    fresh = await start()
    joiner = await start()
    await registerKmsNode(chain, fresh)
    await registerKmsNode(chain, joiner)
    await tickUntil(fresh, (s) => s.node.unavailable_reason === awaiting(0), WAIT)
  })

  test('error: an unregistered node and a node of another measurement receive no share; the collector keeps its count', async () => {
    const stranger = await start()
    const unregistered = await recover(stranger, 1)
    expect(unregistered.code).toBe(1)
    expect(unregistered.stderr).toContain('is not registered in NovaAppRegistry')

    // An instance of the KMS app on version 2, enrolled with a measurement its dev document does not carry.
    const impostor = await start()
    await chain.enrollVersion({ appId: chain.addresses.kmsAppId, versionId: 2, versionName: 'other', codeMeasurement: `0x${'ab'.repeat(32)}`, imageUri: '' })
    const { node: self } = await impostor.status()
    await chain.registerInstance({ versionId: 2, teeWalletAddress: self.tee_wallet as Address, teePubkey: `0x${self.tee_pubkey}`, instanceUrl: impostor.url })
    const wrongMeasurement = await recover(impostor, 1)
    expect(wrongMeasurement.code).toBe(1)
    expect(wrongMeasurement.stderr).toContain('attestation does not match the registry: measurement mismatch')

    expect((await fresh.status()).node.unavailable_reason).toBe(awaiting(0))
  })

  test('behavior: one custodian alone is not enough', async () => {
    const first = await recover(fresh, 1)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain('1/2 received')
    await tickUntil(fresh, (s) => s.node.unavailable_reason === awaiting(1), WAIT)
    expect((await fresh.status()).node.service_available).toBe(false)
  })

  test('error: a share that does not match its commitment is refused (400), the collected share stays', async () => {
    const client = createClient({ transport: http(chain.rpcUrl) })
    const rpc = createRpcClient({ rpcUrl: chain.rpcUrl })
    const recovery = createKmsRecoveryReader({ rpc, address: chain.addresses.kmsRegistry as Wallet })
    const registry = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: chain.addresses.novaAppRegistry as Wallet, kmsRegistry: chain.addresses.kmsRegistry as Wallet }).kmsRegistry
    const hash = await registry.masterSecretHash()
    const sealed = (await recovery.sealedShare(hash, 1, 2))!
    const share = await openRecoveryShare({
      custodianKey: custodians[2]!.keys.sealingKey,
      sealedShare: sealed.sealedShare,
      commitment: sealed.commitment,
      expected: { chainId: await client.request({ method: 'eth_chainId' }).then(Number), kmsRegistry: chain.addresses.kmsRegistry as Wallet, secretHash: hash, policyId: 1, index: 2, threshold: 2 },
    })
    share[0] = share[0]! ^ 1
    const { node: self } = await fresh.status()
    const { envelope } = await buildRecoveryShareSubmission({
      custodianScalar: custodians[2]!.keys.sealingScalar,
      nodeTeePubkeyDer: parseHex(self.tee_pubkey)!,
      submission: { nodeWallet: self.tee_wallet, secretHash: hash, policyId: 1, custodianIndex: 2, share },
      random: cryptoRandom,
    })
    const response = await fresh.fetch('/recovery/share', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) })
    expect(response.status).toBe(400)
    expect((await fresh.status()).node.unavailable_reason).toBe(awaiting(1))
  })

  test('behavior: custodian 3 completes the recovery: same derived key, byte-identical CA, KV values lost', async () => {
    const third = await recover(fresh, 3)
    expect(third.code, third.stderr).toBe(0)
    expect(third.stdout).toContain('state recovered')
    await tickUntil(fresh, (s) => s.node.service_available, WAIT)
    await tickUntil(joiner, (s) => s.node.service_available, WAIT)

    for (const node of [fresh, joiner]) {
      const sdk = await app.client(node)
      expect(bytesToHex((await sdk.derive({ path: 'wallet/root' })).key)).toBe(derivedBefore)
      expect(await caBytes(node)).toBe(caBefore)
    }
    const lost = await refusal(async () => (await app.client(fresh)).getData('kept-in-memory'))
    expect(lost.status).toBe(404)
  })

  test('behavior: rotation: custodians 1 and 3 approve a new policy with the CLI, the recovered nodes publish a fresh backup for it; a threshold of the new policy (all three) vetoes the next', async () => {
    const owner = connect({ rpcUrl: chain.rpcUrl, privateKey: chain.ownerKey })
    const list = custodians.map(({ keys }) => toPolicyCustodian(keys.sealingPublicKeyDer, keys.approver as Address))
    const vote = (which: 'approve' | 'veto', proposalId: number, custodian: number) =>
      cli([which, String(proposalId), '--key', custodians[custodian - 1]!.file, '--passphrase-file', passphraseFile, '--rpc', chain.rpcUrl, '--kms-registry', chain.addresses.kmsRegistry])
    // The approvers pay for their own votes.
    for (const { keys } of custodians) await chain.fund(keys.approver as Address)
    const { proposalId } = await proposeRecoveryPolicy({ clients: owner, kmsRegistry: chain.addresses.kmsRegistry, custodians: list, threshold: 3 })
    const seen = await cli(['status', '--rpc', chain.rpcUrl, '--kms-registry', chain.addresses.kmsRegistry, '--json'])
    expect(JSON.parse(seen.stdout)).toMatchObject({ pendingProposal: { proposalId, threshold: 3, custodians: 3, approvals: 0, vetoes: 0 } })
    const first = await vote('approve', proposalId, 1)
    expect(first.code, first.stderr).toBe(0)
    expect((await readPolicyProposal({ rpcUrl: chain.rpcUrl, kmsRegistry: chain.addresses.kmsRegistry, proposalId })).state).toBe('Pending')
    const second = await vote('approve', proposalId, 3)
    expect(second.code, second.stderr).toBe(0)
    expect((await readPolicyProposal({ rpcUrl: chain.rpcUrl, kmsRegistry: chain.addresses.kmsRegistry, proposalId })).state).toBe('Activated')

    const rpc = createRpcClient({ rpcUrl: chain.rpcUrl })
    const recovery = createKmsRecoveryReader({ rpc, address: chain.addresses.kmsRegistry as Wallet })
    const registry = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: chain.addresses.novaAppRegistry as Wallet, kmsRegistry: chain.addresses.kmsRegistry as Wallet }).kmsRegistry
    const policy = (await recovery.activeRecoveryPolicy())!
    expect(policy.threshold).toBe(3)
    const hash = await registry.masterSecretHash()
    let backup
    for (let attempt = 0; attempt < WAIT.attempts && backup === undefined; attempt++) {
      backup = await recovery.backup(hash, policy.policyId)
      if (backup === undefined) await new Promise((resolve) => setTimeout(resolve, 500))
    }
    expect(backup?.shareCommitments).toHaveLength(3)
    const status = await cli(['status', '--rpc', chain.rpcUrl, '--kms-registry', chain.addresses.kmsRegistry, '--key', custodians[1]!.file, '--passphrase-file', passphraseFile, '--json'])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ pendingProposal: null, policy: { policyId: policy.policyId, threshold: 3 }, self: { index: 1, shareOpens: true } })

    const next = await proposeRecoveryPolicy({ clients: owner, kmsRegistry: chain.addresses.kmsRegistry, custodians: list.slice(0, 2), threshold: 1 })
    for (const custodian of [1, 2, 3]) expect((await vote('veto', next.proposalId, custodian)).code).toBe(0)
    expect((await readPolicyProposal({ rpcUrl: chain.rpcUrl, kmsRegistry: chain.addresses.kmsRegistry, proposalId: next.proposalId })).state).toBe('Vetoed')
    const late = await vote('approve', next.proposalId, 1)
    expect(late.code).toBe(1)
    expect(late.stderr).toContain('reverts:')
  })
})

