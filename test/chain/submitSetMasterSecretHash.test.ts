/**
 * `setMasterSecretHash` as a node sends it (PROTOCOL §9.3), signed through the TEE signing
 * interface, against the real KMSRegistry on anvil: the first authorized writer wins
 * (§7.5 rule 3), and every refusal is reported as a failure.
 *
 * The tests share one chain and run in order: the first commits a hash, the second finds
 * it taken, the third resets it and leaves the zero state for the rest.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createPublicClient, hexToBigInt, http, keccak256, toBytes, toHex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import {
  createChainReaders,
  SET_MASTER_SECRET_HASH_GAS,
  submitSetMasterSecretHash,
  type ChainReaders,
} from '../../core/chain'
import { KmsError } from '../../core/errors'
import type { Eip1559Transaction } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { closedPortUrl, localSigner } from './_doubles'

let chain: DevChain
let readers: ChainReaders
let publicClient: ReturnType<typeof createPublicClient>

beforeAll(async () => {
  chain = await startDevChain()
  readers = createChainReaders({
    rpcUrl: chain.rpcUrl,
    novaAppRegistry: chain.addresses.novaAppRegistry,
    kmsRegistry: chain.addresses.kmsRegistry,
  })
  publicClient = createPublicClient({ transport: http(chain.rpcUrl) })
})

afterAll(() => chain?.stop())

/** A funded TEE wallet registered as an ACTIVE KMS instance, with its signer. */
async function registeredNode() {
  const signer = localSigner(generatePrivateKey())
  await chain.registerInstance({ teeWalletAddress: signer.wallet })
  await chain.fund(signer.wallet)
  return signer
}

function secretHash(label: string): Uint8Array {
  return toBytes(keccak256(toBytes(label)))
}

async function failureOf(submission: Promise<unknown>): Promise<KmsError> {
  const error = await submission.then(
    () => undefined,
    (rejection: unknown) => rejection,
  )
  expect(error).toBeInstanceOf(KmsError)
  expect((error as KmsError).toBody()).toEqual({
    code: 'service_unavailable',
    message: 'failed to set master secret hash',
  })
  return error as KmsError
}

test('behavior: the first registered node commits the hash, as PROTOCOL §9.3 builds it', async () => {
  const signer = await registeredNode()
  const signed: Eip1559Transaction[] = []
  const recording = {
    getWallet: signer.getWallet,
    signTransaction: (transaction: Eip1559Transaction) => (signed.push(transaction), signer.signTransaction(transaction)),
  }
  const hash = secretHash('first secret')
  const [latest, priorityHex, pendingNonce] = await Promise.all([
    publicClient.getBlock({ blockTag: 'latest' }),
    publicClient.request({ method: 'eth_maxPriorityFeePerGas' }),
    publicClient.getTransactionCount({ address: signer.wallet, blockTag: 'pending' }),
  ])

  const transactionHash = await submitSetMasterSecretHash({
    rpcUrl: chain.rpcUrl,
    kmsRegistry: chain.addresses.kmsRegistry,
    hash,
    signer: recording,
  })

  const priority = hexToBigInt(priorityHex)
  expect(signed).toEqual([
    {
      chainId: 31337,
      nonce: pendingNonce,
      maxPriorityFeePerGas: priority,
      maxFeePerGas: 2n * latest.baseFeePerGas! + priority,
      gas: 0x493e0n,
      to: chain.addresses.kmsRegistry,
      value: 0n,
      data: `0x4df7e390${toHex(hash).slice(2)}`,
    },
  ])
  expect(SET_MASTER_SECRET_HASH_GAS).toBe(300_000n)
  const receipt = await publicClient.waitForTransactionReceipt({ hash: transactionHash })
  expect(receipt.status).toBe('success')
  const mined = await publicClient.getTransaction({ hash: transactionHash })
  expect(mined).toMatchObject({ type: 'eip1559', gas: 300_000n, input: signed[0]!.data, from: signer.wallet })
  expect(await readers.kmsRegistry.masterSecretHash()).toEqual(hash)
})

test('error: a second set is refused (MasterSecretHashAlreadySet) and changes nothing', async () => {
  const before = await readers.kmsRegistry.masterSecretHash()
  expect(before).not.toEqual(new Uint8Array(32))
  const second = await registeredNode()
  const error = await failureOf(
    submitSetMasterSecretHash({
      rpcUrl: chain.rpcUrl,
      kmsRegistry: chain.addresses.kmsRegistry,
      hash: secretHash('second secret'),
      signer: second,
    }),
  )
  expect(error.details).toBe('simulate setMasterSecretHash: reverted with MasterSecretHashAlreadySet')
  expect(await readers.kmsRegistry.masterSecretHash()).toEqual(before)
  expect(await publicClient.getTransactionCount({ address: second.wallet })).toBe(0)
})

test('behavior: after an owner reset, a node commits again', async () => {
  await chain.resetMasterSecretHash()
  expect(await readers.kmsRegistry.masterSecretHash()).toEqual(new Uint8Array(32))
  const signer = await registeredNode()
  const hash = secretHash('recommitted secret')
  const transactionHash = await submitSetMasterSecretHash({
    rpcUrl: chain.rpcUrl,
    kmsRegistry: chain.addresses.kmsRegistry,
    hash,
    signer,
  })
  await publicClient.waitForTransactionReceipt({ hash: transactionHash })
  expect(await readers.kmsRegistry.masterSecretHash()).toEqual(hash)
  await chain.resetMasterSecretHash()
})

test('error: a wallet that is not a registered KMS instance is refused (NotAuthorizedToSetHash)', async () => {
  const stranger = localSigner(generatePrivateKey())
  await chain.fund(stranger.wallet)
  const error = await failureOf(
    submitSetMasterSecretHash({
      rpcUrl: chain.rpcUrl,
      kmsRegistry: chain.addresses.kmsRegistry,
      hash: secretHash('stranger'),
      signer: stranger,
    }),
  )
  expect(error.details).toBe('simulate setMasterSecretHash: reverted with NotAuthorizedToSetHash')
  expect(await readers.kmsRegistry.masterSecretHash()).toEqual(new Uint8Array(32))
})

test('error: a stopped instance is refused', async () => {
  const signer = await registeredNode()
  const instance = await readers.novaAppRegistry.getInstanceByWallet(signer.wallet)
  await chain.setInstanceStatus(instance!.instanceId, 1)
  const error = await failureOf(
    submitSetMasterSecretHash({ rpcUrl: chain.rpcUrl, kmsRegistry: chain.addresses.kmsRegistry, hash: secretHash('x'), signer }),
  )
  expect(error.details).toContain('NotAuthorizedToSetHash')
})

test('error: a dead RPC is reported with its cause', async () => {
  const signer = localSigner(generatePrivateKey())
  const error = await failureOf(
    submitSetMasterSecretHash({
      rpcUrl: await closedPortUrl(),
      kmsRegistry: chain.addresses.kmsRegistry,
      hash: secretHash('x'),
      signer,
    }),
  )
  // The simulation is the first call to the chain (core/chain/_sendNodeTransaction.ts).
  expect(error.details).toMatch(/^simulate setMasterSecretHash: /)
  expect(error.cause).toBeInstanceOf(Error)
})

test('error: a signer failure is reported, and nothing is sent', async () => {
  const signer = await registeredNode()
  const refusal = new KmsError('service_unavailable', 'Enclave helper unavailable')
  const error = await failureOf(
    submitSetMasterSecretHash({
      rpcUrl: chain.rpcUrl,
      kmsRegistry: chain.addresses.kmsRegistry,
      hash: secretHash('x'),
      signer: { getWallet: signer.getWallet, signTransaction: () => Promise.reject(refusal) },
    }),
  )
  expect(error.cause).toBe(refusal)
  expect(error.details).toMatch(/^sign the transaction: /)
  expect(await readers.kmsRegistry.masterSecretHash()).toEqual(new Uint8Array(32))
})

test('error: a hash that is not 32 bytes is a caller bug', async () => {
  const signer = localSigner(generatePrivateKey())
  await expect(
    submitSetMasterSecretHash({
      rpcUrl: chain.rpcUrl,
      kmsRegistry: chain.addresses.kmsRegistry,
      hash: new Uint8Array(31),
      signer,
    }),
  ).rejects.toThrow(RangeError)
})
