/**
 * Key epochs (issue 16, PROTOCOL §7.7, §9.1, §9.3) against the real KMSRegistry on anvil:
 * `createKmsEpochReader` through a whole rotation, `submitReportEpochMigrated` as a node sends
 * it and every refusal by name, and each read failure as `registry_unavailable`.
 *
 * The tests share one chain and run in order: epoch 0 is committed, a rotation opens epoch 1,
 * the nodes report, the owner retires epoch 0; later tests build on epoch 1.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, expect, test } from 'vitest'
import {
  bytesToHex,
  createPublicClient,
  decodeFunctionData,
  encodeFunctionResult,
  http,
  keccak256,
  toBytes,
  toHex,
  type Hex,
} from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { connect } from '../../contracts/deploy/clients'
import { retireEpoch, setAppKeyEpoch, startRotation } from '../../contracts/deploy/epochs'
import { setInitialRecoveryPolicy } from '../../contracts/deploy/recoveryPolicy'
import {
  createKmsEpochReader,
  createRpcClient,
  kmsRegistryAbi,
  REPORT_EPOCH_MIGRATED_GAS_CAP,
  submitPublishBackup,
  submitReportEpochMigrated,
  submitSetMasterSecretHash,
  type KmsEpochReader,
} from '../../core/chain'
import type { Wallet } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import type { Eip1559Transaction } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { closedPortUrl, localSigner, startRpcDouble, type RpcAnswer } from './_doubles'

let chain: DevChain
let reader: KmsEpochReader
let publicClient: ReturnType<typeof createPublicClient>
let kmsRegistry: Wallet
const nodeA = localSigner(generatePrivateKey())
const nodeB = localSigner(generatePrivateKey())
const HASH_0 = toBytes(keccak256(toBytes('secret of epoch 0')))
const HASH_1 = toBytes(keccak256(toBytes('secret of epoch 1')))
const ZERO = new Uint8Array(32)

beforeAll(async () => {
  chain = await startDevChain()
  kmsRegistry = chain.addresses.kmsRegistry as Wallet
  reader = createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: chain.rpcUrl }), address: kmsRegistry })
  publicClient = createPublicClient({ transport: http(chain.rpcUrl) })
  for (const node of [nodeA, nodeB]) {
    await chain.registerInstance({ teeWalletAddress: node.wallet })
    await chain.fund(node.wallet)
  }
})

afterAll(() => chain?.stop())

const owner = () => ({ clients: connect({ rpcUrl: chain.rpcUrl, privateKey: chain.ownerKey }), kmsRegistry })

async function mined(hash: Hex): Promise<void> {
  expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe('success')
}

async function commit(signer: typeof nodeA, hash: Uint8Array): Promise<void> {
  await mined(await submitSetMasterSecretHash({ rpcUrl: chain.rpcUrl, kmsRegistry, hash, signer }))
}

function report(signer: Pick<typeof nodeA, 'getWallet' | 'signTransaction'>, epoch: number) {
  return submitReportEpochMigrated({ rpcUrl: chain.rpcUrl, kmsRegistry, epoch, signer })
}

async function failureOf(submission: Promise<unknown>): Promise<KmsError> {
  const error = await submission.then(
    () => undefined,
    (rejection: unknown) => rejection,
  )
  expect(error).toBeInstanceOf(KmsError)
  expect((error as KmsError).toBody()).toEqual({ code: 'service_unavailable', message: 'failed to report epoch migrated' })
  return error as KmsError
}

async function unavailable(read: Promise<unknown>): Promise<KmsError> {
  const error = await read.then(
    () => undefined,
    (rejection: unknown) => rejection,
  )
  expect(error).toBeInstanceOf(KmsError)
  expect((error as KmsError).code).toBe('registry_unavailable')
  return error as KmsError
}

test('behavior: a fresh deployment is at epoch 0, uncommitted and live', async () => {
  expect(await reader.readEpochs()).toEqual({ current: 0, epochs: [{ epoch: 0, hash: ZERO, retired: false }] })
  expect(await reader.retireGraceSeconds()).toBe(604_800)
  const latest = await publicClient.getBlock({ blockTag: 'latest' })
  const startedAt = await reader.epochStartedAt(0)
  expect(startedAt).toBeGreaterThan(0)
  expect(startedAt).toBeLessThanOrEqual(Number(latest.timestamp))
  expect(await reader.epochStartedAt(1)).toBe(0)
  expect(await reader.migratedEpochOf(nodeA.wallet)).toEqual({ reported: false, epoch: 0 })
  expect(await reader.appKeyEpoch(chain.addresses.kmsAppId)).toBe(0)
  expect(await reader.recoveryPolicyEpoch(1)).toBeUndefined()
})

test('behavior: a rotation read through to retirement, with the reports a node sends', async () => {
  await commit(nodeA, HASH_0)
  expect(await reader.readEpochs()).toEqual({ current: 0, epochs: [{ epoch: 0, hash: HASH_0, retired: false }] })
  await mined(await report(nodeA, 0))
  expect(await reader.migratedEpochOf(nodeA.wallet)).toEqual({ reported: true, epoch: 0 })

  const rotation = await startRotation(owner())
  expect(rotation.epoch).toBe(1)
  const receipt = await publicClient.getTransactionReceipt({ hash: rotation.transactionHash })
  const block = await publicClient.getBlock({ blockNumber: receipt.blockNumber })
  expect(await reader.epochStartedAt(1)).toBe(Number(block.timestamp))
  expect(await reader.readEpochs()).toEqual({
    current: 1,
    epochs: [
      { epoch: 1, hash: ZERO, retired: false },
      { epoch: 0, hash: HASH_0, retired: false },
    ],
  })

  // Refused while epoch 1 has no hash; an earlier epoch is refused once it has.
  expect((await failureOf(report(nodeA, 1))).details).toBe('simulate reportEpochMigrated: reverted with EpochNotCommitted')
  await commit(nodeB, HASH_1)
  expect((await failureOf(report(nodeA, 0))).details).toBe('simulate reportEpochMigrated: reverted with NotCurrentEpoch')
  expect((await failureOf(report(nodeA, 2))).details).toBe('simulate reportEpochMigrated: reverted with NotCurrentEpoch')

  await mined(await report(nodeA, 1))
  await expect(retireEpoch({ ...owner(), rpcUrl: chain.rpcUrl, epoch: 0, force: false })).rejects.toThrow(
    new RegExp(`MigrationIncomplete: not sent; 1 of 2 operators have not reported epoch 1: ${nodeB.wallet}`),
  )
  await mined(await report(nodeB, 1))
  expect(await reader.migratedEpochOf(nodeB.wallet)).toEqual({ reported: true, epoch: 1 })
  await retireEpoch({ ...owner(), rpcUrl: chain.rpcUrl, epoch: 0, force: false })
  expect(await reader.readEpochs()).toEqual({
    current: 1,
    epochs: [
      { epoch: 1, hash: HASH_1, retired: false },
      { epoch: 0, hash: HASH_0, retired: true },
    ],
  })
  // Idempotent: a resent report is accepted and changes nothing.
  await mined(await report(nodeB, 1))
  expect(await reader.migratedEpochOf(nodeB.wallet)).toEqual({ reported: true, epoch: 1 })
})

test('behavior: the report transaction as built (EIP-1559, estimate + 25 % under the cap)', async () => {
  const signed: Eip1559Transaction[] = []
  const recording = {
    getWallet: nodeA.getWallet,
    signTransaction: (transaction: Eip1559Transaction) => (signed.push(transaction), nodeA.signTransaction(transaction)),
  }
  const data = `0x072a5b49${toHex(1n, { size: 32 }).slice(2)}` as Hex
  const estimate = await publicClient.estimateGas({ account: nodeA.wallet, to: kmsRegistry, data })
  const transactionHash = await report(recording, 1)
  expect(signed).toHaveLength(1)
  expect(signed[0]).toMatchObject({ chainId: 31337, to: kmsRegistry, value: 0n, data, gas: (estimate * 5n) / 4n })
  expect(signed[0]!.gas).toBeLessThan(REPORT_EPOCH_MIGRATED_GAS_CAP)
  expect(REPORT_EPOCH_MIGRATED_GAS_CAP).toBe(200_000n)
  await mined(transactionHash)
  expect(await publicClient.getTransaction({ hash: transactionHash })).toMatchObject({ type: 'eip1559', from: nodeA.wallet, input: data })
})

test("error: a stranger's report is refused (NotOperator) before anything is sent", async () => {
  const stranger = localSigner(generatePrivateKey())
  await chain.fund(stranger.wallet)
  let signatures = 0
  const counting = { getWallet: stranger.getWallet, signTransaction: (t: Eip1559Transaction) => (signatures++, stranger.signTransaction(t)) }
  expect((await failureOf(report(counting, 1))).details).toBe('simulate reportEpochMigrated: reverted with NotOperator')
  expect(signatures).toBe(0)
  expect(await publicClient.getTransactionCount({ address: stranger.wallet })).toBe(0)
  // An unreachable chain fails at the first read, named by its step.
  const offline = await failureOf(
    submitReportEpochMigrated({ rpcUrl: await closedPortUrl(), kmsRegistry, epoch: 1, signer: nodeA }),
  )
  expect(offline.details).toMatch(/^simulate reportEpochMigrated: /)
})

test("behavior: appKeyEpoch follows the app owner's setAppKeyEpoch", async () => {
  await setAppKeyEpoch({ ...owner(), appId: chain.addresses.kmsAppId, epoch: 3 })
  expect(await reader.appKeyEpoch(chain.addresses.kmsAppId)).toBe(3)
  expect(await reader.appKeyEpoch(12345)).toBe(0)
  // The cluster epoch is independent of it.
  expect((await reader.readEpochs()).current).toBe(1)
})

test("behavior: recoveryPolicyEpoch is bound by the policy's first backup, to the current epoch", async () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  const sealingKey = bytesToHex(new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })))
  await setInitialRecoveryPolicy({ ...owner(), custodians: [{ sealingKey, approver: nodeB.wallet }], threshold: 1 })
  expect(await reader.recoveryPolicyEpoch(1)).toBeUndefined()
  await mined(
    await submitPublishBackup({
      rpcUrl: chain.rpcUrl,
      kmsRegistry,
      secretHash: HASH_1,
      sealedShares: [new Uint8Array(64).fill(7)],
      shareCommitments: [toBytes(keccak256(toBytes('share')))],
      signer: nodeA,
    }),
  )
  expect(await reader.recoveryPolicyEpoch(1)).toBe(1)
  expect(await reader.recoveryPolicyEpoch(2)).toBeUndefined()
})

test('error: a wrong address or an unreachable chain is registry_unavailable, for every read', async () => {
  const readers = [
    // NovaAppRegistry has none of these functions: every call reverts without data.
    createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: chain.rpcUrl }), address: chain.addresses.novaAppRegistry }),
    // No code at all: every call returns no data.
    createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: chain.rpcUrl }), address: nodeA.wallet }),
    createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: await closedPortUrl() }), address: kmsRegistry }),
  ]
  for (const wrong of readers) {
    await unavailable(wrong.readEpochs())
    await unavailable(wrong.appKeyEpoch(1))
    await unavailable(wrong.epochStartedAt(0))
    await unavailable(wrong.migratedEpochOf(nodeA.wallet))
    await unavailable(wrong.recoveryPolicyEpoch(1))
    await unavailable(wrong.retireGraceSeconds())
  }
  const error = await unavailable(readers[0]!.readEpochs())
  expect(error.toBody()).toEqual({ code: 'registry_unavailable', message: 'Registry unavailable' })
  expect(error.details).toMatch(/^currentEpoch: /)
})

/** A chain double answering each KMSRegistry view by name; it records the block of each eth_call. */
async function scriptedChain(answers: Partial<Record<string, (args: readonly unknown[]) => Hex>>) {
  const blocks: unknown[] = []
  const double = await startRpcDouble((method, params): RpcAnswer => {
    if (method === 'eth_blockNumber') return { result: '0x2a' }
    if (method !== 'eth_call') return { error: { code: -32601, message: 'method not found' } }
    const [request, block] = params as [{ data: Hex }, unknown]
    blocks.push(block)
    const { functionName, args = [] } = decodeFunctionData({ abi: kmsRegistryAbi, data: request.data })
    const answer = answers[functionName]
    return answer === undefined ? { error: { code: 3, message: 'execution reverted' } } : { result: answer(args) }
  })
  const epochs = createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: double.url }), address: kmsRegistry })
  return { reader: epochs, blocks, close: double.close }
}

const result = (functionName: 'currentEpoch' | 'appKeyEpoch' | 'RETIRE_GRACE_SECONDS' | 'isEpochRetired' | 'masterSecretHashOf', value: bigint | boolean | Hex) =>
  () => encodeFunctionResult({ abi: kmsRegistryAbi, functionName, result: value as never })

test('behavior: readEpochs reads every eth_call at the one block it read first', async () => {
  const scripted = await scriptedChain({
    currentEpoch: result('currentEpoch', 5n),
    masterSecretHashOf: (args) => toHex(Number(args[0]) + 1, { size: 32 }),
    isEpochRetired: result('isEpochRetired', false),
  })
  try {
    expect(await scripted.reader.readEpochs()).toEqual({
      current: 5,
      epochs: [
        { epoch: 5, hash: toBytes(toHex(6, { size: 32 })), retired: false },
        { epoch: 4, hash: toBytes(toHex(5, { size: 32 })), retired: false },
      ],
    })
    expect(scripted.blocks).toHaveLength(5)
    expect(new Set(scripted.blocks)).toEqual(new Set(['0x2a']))
  } finally {
    await scripted.close()
  }
})

test('error: an epoch above 2^32 - 1 from the chain is registry_unavailable, never truncated', async () => {
  const big = 2n ** 32n
  const scripted = await scriptedChain({
    currentEpoch: result('currentEpoch', big),
    appKeyEpoch: result('appKeyEpoch', big),
    RETIRE_GRACE_SECONDS: result('RETIRE_GRACE_SECONDS', big),
    migratedEpochOf: () => encodeFunctionResult({ abi: kmsRegistryAbi, functionName: 'migratedEpochOf', result: [true, big] }),
    recoveryPolicyEpoch: () => encodeFunctionResult({ abi: kmsRegistryAbi, functionName: 'recoveryPolicyEpoch', result: [true, big] }),
  })
  try {
    expect((await unavailable(scripted.reader.readEpochs())).details).toBe('malformed result: currentEpoch is above 2^32 - 1')
    expect((await unavailable(scripted.reader.appKeyEpoch(1))).details).toBe('malformed result: appKeyEpoch is above 2^32 - 1')
    await unavailable(scripted.reader.migratedEpochOf(nodeA.wallet))
    await unavailable(scripted.reader.recoveryPolicyEpoch(1))
    await unavailable(scripted.reader.retireGraceSeconds())
  } finally {
    await scripted.close()
  }
  // 2^32 - 1 itself is an epoch.
  const edge = await scriptedChain({ appKeyEpoch: result('appKeyEpoch', big - 1n) })
  try {
    expect(await edge.reader.appKeyEpoch(1)).toBe(0xffff_ffff)
  } finally {
    await edge.close()
  }
})

test("error: an answer that breaks the contract's invariants is registry_unavailable", async () => {
  const cases = [
    { answers: { isEpochRetired: result('isEpochRetired', true), masterSecretHashOf: result('masterSecretHashOf', toHex(1, { size: 32 })) }, details: 'the current epoch is retired' },
    { answers: { isEpochRetired: result('isEpochRetired', false), masterSecretHashOf: result('masterSecretHashOf', toHex(0, { size: 32 })) }, details: 'the previous epoch has no hash' },
  ]
  for (const { answers, details } of cases) {
    const scripted = await scriptedChain({ currentEpoch: result('currentEpoch', 1n), ...answers })
    try {
      expect((await unavailable(scripted.reader.readEpochs())).details).toBe(`malformed result: ${details}`)
    } finally {
      await scripted.close()
    }
  }
  const unbound = await scriptedChain({
    migratedEpochOf: () => encodeFunctionResult({ abi: kmsRegistryAbi, functionName: 'migratedEpochOf', result: [false, 3n] }),
    recoveryPolicyEpoch: () => encodeFunctionResult({ abi: kmsRegistryAbi, functionName: 'recoveryPolicyEpoch', result: [false, 3n] }),
    RETIRE_GRACE_SECONDS: result('RETIRE_GRACE_SECONDS', 0n),
  })
  try {
    await unavailable(unbound.reader.migratedEpochOf(nodeA.wallet))
    await unavailable(unbound.reader.recoveryPolicyEpoch(1))
    await unavailable(unbound.reader.retireGraceSeconds())
  } finally {
    await unbound.close()
  }
})

test('args: a bad epoch, id or wallet throws before any request', async () => {
  await expect(reader.epochStartedAt(-1)).rejects.toThrow(RangeError)
  await expect(reader.epochStartedAt(2 ** 32)).rejects.toThrow('epoch: expected an integer in 0..2^32 - 1, got 4294967296')
  await expect(reader.appKeyEpoch(1.5)).rejects.toThrow(RangeError)
  await expect(reader.recoveryPolicyEpoch(-1)).rejects.toThrow(RangeError)
  await expect(reader.migratedEpochOf('0x1234' as Wallet)).rejects.toThrow(TypeError)
  await expect(submitReportEpochMigrated({ rpcUrl: chain.rpcUrl, kmsRegistry, epoch: 2 ** 32, signer: nodeA })).rejects.toThrow(RangeError)
  expect(() => createKmsEpochReader({ rpc: createRpcClient({ rpcUrl: chain.rpcUrl }), address: 'nope' as Wallet })).toThrow(TypeError)
})
