/**
 * The key-epoch commands of the deploy CLI (issue 16): rotation-start, rotation-status,
 * epoch-retire [--force] and app-epoch-set, against a fresh anvil with the real contracts and
 * real node transactions (core/chain). epoch-retire reads the reports first and sends nothing
 * that the contract would refuse for a missing report or an unfinished grace period.
 *
 * The tests share one chain and run in order.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createPublicClient, createTestClient, http, keccak256, toBytes, toHex, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createKmsEpochReader, createRpcClient, submitReportEpochMigrated, submitSetMasterSecretHash } from '../../core/chain'
import type { Wallet } from '../../core/encoding'
import { startAnvil, type Anvil } from '../helpers/anvil'
import { ANVIL_OWNER_KEY, buildContracts } from '../helpers/devChain'
import { cliJson, cliError } from './_cli'
import { localSigner } from './_doubles'

const GRACE = 60
const OWNER = privateKeyToAccount(ANVIL_OWNER_KEY).address

let anvil: Anvil
let rpc: string[]
let kms: string[]
let kmsRegistry: Wallet
let novaAppRegistry: Address
let publicClient: ReturnType<typeof createPublicClient>
let testClient: ReturnType<typeof createTestClient>
const nodeA = localSigner(generatePrivateKey())
const nodeB = localSigner(generatePrivateKey())
const hash = (label: string) => toBytes(keccak256(toBytes(label)))

beforeAll(async () => {
  await buildContracts()
  anvil = await startAnvil()
  rpc = ['--rpc-url', anvil.rpcUrl]
  publicClient = createPublicClient({ transport: http(anvil.rpcUrl) })
  testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
  const deployed = await cliJson(['deploy', ...rpc, '--kms-app-id', '49', '--retire-grace-seconds', String(GRACE)])
  kmsRegistry = deployed.kmsRegistry as Wallet
  novaAppRegistry = deployed.novaAppRegistry as Address
  kms = [...rpc, '--kms-registry', kmsRegistry]
  for (const node of [nodeA, nodeB]) {
    await cliJson(['register-instance', ...rpc, '--nova-app-registry', novaAppRegistry, '--app-id', '49', '--version-id', '1', '--tee-wallet', node.wallet])
    await testClient.setBalance({ address: node.wallet, value: 10n ** 20n })
  }
})

afterAll(() => anvil?.stop())

const status = () => cliJson(['rotation-status', ...kms])

async function mined(transaction: Promise<Hex>): Promise<void> {
  expect((await publicClient.waitForTransactionReceipt({ hash: await transaction })).status).toBe('success')
}

const commit = (signer: typeof nodeA, label: string) =>
  mined(submitSetMasterSecretHash({ rpcUrl: anvil.rpcUrl, kmsRegistry, hash: hash(label), signer }))

const report = (signer: typeof nodeA, epoch: number) =>
  mined(submitReportEpochMigrated({ rpcUrl: anvil.rpcUrl, kmsRegistry, epoch, signer }))

const ownerNonce = () => publicClient.getTransactionCount({ address: OWNER })

test('behavior: rotation-status of a fresh deployment; rotation-start refuses an uncommitted epoch', async () => {
  const fresh = await status()
  expect(fresh).toMatchObject({
    owner: OWNER.toLowerCase(),
    currentEpoch: 0,
    retireGraceSeconds: GRACE,
    epochs: [{ epoch: 0, hash: toHex(0, { size: 32 }), committed: false, retired: false }],
    forceRetireFrom: null,
    graceRemainingSeconds: null,
    operators: [
      { operator: nodeA.wallet, reportedEpoch: null, migrated: false },
      { operator: nodeB.wallet, reportedEpoch: null, migrated: false },
    ],
    missing: [nodeA.wallet, nodeB.wallet],
  })
  expect((fresh.epochs as { startedAt: number }[])[0]!.startedAt).toBeGreaterThan(0)
  expect(await cliError(['rotation-start', ...kms])).toBe('EpochNotCommitted()')
})

test('behavior: a rotation retired with --force once the grace is over, never before', async () => {
  await commit(nodeA, 'epoch 0')
  await report(nodeA, 0)
  const started = await cliJson(['rotation-start', ...kms])
  expect(started).toMatchObject({ epoch: 1 })
  const block = await publicClient.getBlock({
    blockNumber: (await publicClient.getTransactionReceipt({ hash: started.transactionHash as Hex })).blockNumber,
  })
  const startedAt = Number(block.timestamp)
  expect(await status()).toMatchObject({
    currentEpoch: 1,
    epochs: [
      { epoch: 1, hash: toHex(0, { size: 32 }), committed: false, retired: false, startedAt },
      { epoch: 0, hash: toHex(hash('epoch 0')), committed: true, retired: false },
    ],
    forceRetireFrom: startedAt + GRACE,
    operators: [
      { operator: nodeA.wallet, reportedEpoch: 0, migrated: false },
      { operator: nodeB.wallet, reportedEpoch: null, migrated: false },
    ],
  })
  // Epoch 1 has no hash yet: no rotation, no retirement.
  expect(await cliError(['rotation-start', ...kms])).toBe('EpochNotCommitted()')
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '0'])).toBe('EpochNotCommitted()')

  await commit(nodeB, 'epoch 1')
  // Two live epochs: a third rotation waits for the retirement.
  expect(await cliError(['rotation-start', ...kms])).toBe('PreviousEpochNotRetired()')
  const nonce = await ownerNonce()
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '0'])).toBe(
    `MigrationIncomplete: not sent; 2 of 2 operators have not reported epoch 1: ${nodeA.wallet}, ${nodeB.wallet}`,
  )
  await report(nodeA, 1)
  // A sender that is not the owner hears that first, as the contract orders its checks.
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '0', '--private-key', generatePrivateKey()])).toBe('NotOwner()')
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '0'])).toBe(
    `MigrationIncomplete: not sent; 1 of 2 operators have not reported epoch 1: ${nodeB.wallet}`,
  )
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '0', '--force'])).toMatch(
    new RegExp(`^GracePeriodNotOver: not sent; epoch 1 started at ${startedAt}, --force is possible from ${startedAt + GRACE} \\(\\d+ s from the latest block\\)$`),
  )
  expect(await ownerNonce()).toBe(nonce)
  expect((await status()).missing).toEqual([nodeB.wallet])

  await testClient.increaseTime({ seconds: GRACE })
  await testClient.mine({ blocks: 1 })
  expect(await status()).toMatchObject({ graceRemainingSeconds: 0 })
  expect(await cliJson(['epoch-retire', ...kms, '--epoch', '0', '--force'])).toMatchObject({ epoch: 0, forced: true })
  expect(await status()).toMatchObject({
    epochs: [
      { epoch: 1, committed: true, retired: false },
      { epoch: 0, retired: true },
    ],
  })
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '0'])).toBe('EpochAlreadyRetired()')
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '0', '--force'])).toBe('EpochAlreadyRetired()')
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '5'])).toBe('EpochNotRetirable()')
})

test('behavior: epoch-retire without --force once every operator has reported', async () => {
  expect(await cliJson(['rotation-start', ...kms])).toMatchObject({ epoch: 2 })
  await commit(nodeA, 'epoch 2')
  await report(nodeA, 2)
  await report(nodeB, 2)
  expect(await status()).toMatchObject({
    currentEpoch: 2,
    operators: [
      { operator: nodeA.wallet, reportedEpoch: 2, migrated: true },
      { operator: nodeB.wallet, reportedEpoch: 2, migrated: true },
    ],
    missing: [],
  })
  expect(await cliJson(['epoch-retire', ...kms, '--epoch', '1'])).toMatchObject({ epoch: 1, forced: false })
  const reader = createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: anvil.rpcUrl }), address: kmsRegistry })
  expect(await reader.readEpochs()).toEqual({
    current: 2,
    epochs: [
      { epoch: 2, hash: hash('epoch 2'), retired: false },
      { epoch: 1, hash: hash('epoch 1'), retired: true },
    ],
  })
})

test('error: only the owner starts a rotation or retires', async () => {
  const stranger = generatePrivateKey()
  await testClient.setBalance({ address: privateKeyToAccount(stranger).address, value: 10n ** 20n })
  expect(await cliError(['rotation-start', ...kms, '--private-key', stranger])).toBe('NotOwner()')
  expect(await cliError(['epoch-retire', ...kms, '--epoch', '1', '--force', '--private-key', stranger])).toBe('NotOwner()')
})

test("behavior: app-epoch-set is signed by the app's owner; the epoch only grows", async () => {
  const appOwnerKey = generatePrivateKey()
  const appOwner = privateKeyToAccount(appOwnerKey).address
  await testClient.setBalance({ address: appOwner, value: 10n ** 20n })
  await cliJson(['register-app', ...rpc, '--nova-app-registry', novaAppRegistry, '--app-id', '7', '--app-owner', appOwner])

  expect(await cliJson(['app-epoch-set', ...kms, '--app-id', '7', '--epoch', '2', '--private-key', appOwnerKey])).toMatchObject({
    appId: 7,
    epoch: 2,
  })
  const reader = createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: anvil.rpcUrl }), address: kmsRegistry })
  expect(await reader.appKeyEpoch(7)).toBe(2)
  // The KMS owner (DEPLOYER_PRIVATE_KEY) does not own app 7; nobody owns app 8.
  expect(await cliError(['app-epoch-set', ...kms, '--app-id', '7', '--epoch', '3'])).toBe('NotAppOwner()')
  expect(await cliError(['app-epoch-set', ...kms, '--app-id', '8', '--epoch', '1', '--private-key', appOwnerKey])).toBe('NotAppOwner()')
  expect(await cliError(['app-epoch-set', ...kms, '--app-id', '7', '--epoch', '2', '--private-key', appOwnerKey])).toBe('InvalidAppKeyEpoch()')
  expect(await cliError(['app-epoch-set', ...kms, '--app-id', '7', '--epoch', '4294967296', '--private-key', appOwnerKey])).toMatch(
    /epoch: expected an integer in 1\.\.2\^32 - 1/,
  )
  expect(await cliError(['app-epoch-set', ...kms, '--app-id', '7', '--epoch', 'two', '--private-key', appOwnerKey])).toBe(
    '--epoch: expected a decimal integer',
  )
  expect(await reader.appKeyEpoch(7)).toBe(2)
  // The KMS app itself stays at epoch 0: app epochs are per app.
  expect(await reader.appKeyEpoch(49)).toBe(0)
})
