/**
 * The registry readers against the real contracts on anvil (PROTOCOL §3.3, §9.1, §9.2):
 * records, "not found" (unknown wallet, reverted getApp/getVersion) and registry_unavailable
 * (dead RPC, timeout, no contract, undecodable or out-of-range results).
 */
import { hexToBytes } from 'viem'
import { DEFAULT_KMS_VERSION } from '../../contracts/deploy/deploy'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { encodeErrorResult, encodeFunctionResult, keccak256, parseAbi, toHex, zeroAddress } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { loadArtifact } from '../../contracts/deploy/artifacts'
import { connect } from '../../contracts/deploy/clients'
import { writeAndWait } from '../../contracts/deploy/transact'
import { createChainReaders, novaAppRegistryAbi, type ChainReaders } from '../../core/chain'
import type { Wallet } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { closedPortUrl, startRpcDouble } from './_doubles'

const KMS_APP_ID = 49
const TEE_PUBKEY = `0x3076301006072a8648ce3d020106052b8104002203620004${'ab'.repeat(96)}` as const

function newWallet(): Wallet {
  return privateKeyToAddress(generatePrivateKey()).toLowerCase() as Wallet
}

let chain: DevChain
let readers: ChainReaders
const [nodeA, nodeB, nodeC] = [newWallet(), newWallet(), newWallet()]
let instanceA: number

beforeAll(async () => {
  chain = await startDevChain({ kmsAppId: KMS_APP_ID })
  readers = createChainReaders({
    rpcUrl: chain.rpcUrl,
    novaAppRegistry: chain.addresses.novaAppRegistry,
    kmsRegistry: chain.addresses.kmsRegistry,
  })
  instanceA = await chain.registerInstance({
    teeWalletAddress: nodeA,
    instanceUrl: 'https://a.example',
    teePubkey: TEE_PUBKEY,
  })
  const instanceB = await chain.registerInstance({ teeWalletAddress: nodeB, zkVerified: false })
  await chain.registerInstance({ teeWalletAddress: nodeC })
  await chain.setInstanceStatus(instanceB, 1)
})

afterAll(() => chain?.stop())

async function expectUnavailable(read: Promise<unknown>): Promise<KmsError> {
  const error = await read.then(
    () => undefined,
    (rejection: unknown) => rejection,
  )
  expect(error).toBeInstanceOf(KmsError)
  const kmsError = error as KmsError
  expect(kmsError.toBody()).toEqual({ code: 'registry_unavailable', message: 'Registry unavailable' })
  expect(kmsError.status).toBe(503)
  return kmsError
}

describe('NovaAppRegistryReader', () => {
  test('behavior: getInstanceByWallet returns the registered record, canonical', async () => {
    const instance = await readers.novaAppRegistry.getInstanceByWallet(nodeA)
    expect(instance).toEqual({
      instanceId: instanceA,
      appId: KMS_APP_ID,
      versionId: 1,
      operator: chain.addresses.owner,
      instanceUrl: 'https://a.example',
      teePubkey: expect.any(Uint8Array),
      teeWalletAddress: nodeA,
      zkVerified: true,
      status: 0,
      registeredAt: expect.any(Number),
    })
    expect(toHex(instance!.teePubkey)).toBe(TEE_PUBKEY)
    expect(instance!.registeredAt).toBeGreaterThan(1_600_000_000)
  })

  test('behavior: getInstanceByWallet accepts any spelling of the wallet', async () => {
    const upper = `0X${nodeA.slice(2).toUpperCase()}` as Wallet
    expect((await readers.novaAppRegistry.getInstanceByWallet(upper))?.teeWalletAddress).toBe(nodeA)
  })

  test('behavior: a stopped instance is still found, with its status', async () => {
    const instance = await readers.novaAppRegistry.getInstanceByWallet(nodeB)
    expect(instance).toMatchObject({ status: 1, zkVerified: false, teeWalletAddress: nodeB })
    expect(instance?.teePubkey).toEqual(new Uint8Array())
  })

  test('behavior: an unknown wallet is not found (zero tuple)', async () => {
    expect(await readers.novaAppRegistry.getInstanceByWallet(newWallet())).toBeUndefined()
  })

  test('behavior: getApp returns the KMS app', async () => {
    expect(await readers.novaAppRegistry.getApp(KMS_APP_ID)).toEqual({
      appId: KMS_APP_ID,
      owner: chain.addresses.owner,
      teeArch: expect.any(Uint8Array),
      dappContract: chain.addresses.kmsRegistry,
      metadataUri: '',
      latestVersionId: 1,
      createdAt: expect.any(Number),
      status: 0,
      appWallet: zeroAddress,
    })
  })

  test('behavior: a reverted getApp is not found', async () => {
    expect(await readers.novaAppRegistry.getApp(12345)).toBeUndefined()
  })

  test('behavior: getVersion returns the enrolled version', async () => {
    const version = await readers.novaAppRegistry.getVersion(KMS_APP_ID, 1)
    expect(version).toEqual({
      versionId: 1,
      versionName: 'dev',
      codeMeasurement: hexToBytes(DEFAULT_KMS_VERSION.codeMeasurement),
      imageUri: '',
      auditUrl: '',
      auditHash: '',
      githubRunId: '',
      status: 0,
      enrolledAt: expect.any(Number),
      enrolledBy: chain.addresses.owner,
    })
  })

  test('behavior: a reverted getVersion is not found', async () => {
    expect(await readers.novaAppRegistry.getVersion(KMS_APP_ID, 99)).toBeUndefined()
    expect(await readers.novaAppRegistry.getVersion(12345, 1)).toBeUndefined()
  })

  test('behavior: getActiveInstances lists ACTIVE wallets in registration order', async () => {
    expect(await readers.novaAppRegistry.getActiveInstances(KMS_APP_ID)).toEqual([nodeA, nodeC])
    expect(await readers.novaAppRegistry.getActiveInstances(12345)).toEqual([])
  })

  test('error: a uint256 beyond 2^53 is a malformed result, not a rounded number', async () => {
    const hugeAppId = 2n ** 60n
    const wallet = newWallet()
    // The ops helpers take JS numbers, so this app is created with raw calls.
    const clients = connect({ rpcUrl: chain.rpcUrl, privateKey: chain.ownerKey })
    const call = (functionName: string, args: unknown[]) =>
      writeAndWait(clients, {
        address: chain.addresses.novaAppRegistry,
        abi: loadArtifact('NovaAppRegistry').abi,
        functionName,
        args,
      })
    await call('createApp', [hugeAppId, chain.addresses.owner, zeroAddress, keccak256('0x'), '', zeroAddress])
    await call('enrollVersion', [hugeAppId, 1n, 'v1', keccak256('0x'), ''])
    await call('registerInstance', [hugeAppId, 1n, chain.addresses.owner, '', '0x', wallet, true])

    const error = await expectUnavailable(readers.novaAppRegistry.getInstanceByWallet(wallet))
    expect(error.details).toContain('appId is not a safe integer')
  })
})

describe('KmsRegistryReader', () => {
  test('behavior: reads kmsAppId, a zero masterSecretHash and the operator set', async () => {
    expect(await readers.kmsRegistry.kmsAppId()).toBe(KMS_APP_ID)
    expect(await readers.kmsRegistry.masterSecretHash()).toEqual(new Uint8Array(32))
    expect(await readers.kmsRegistry.getOperators()).toEqual([nodeA, nodeC])
    expect(await readers.kmsRegistry.isOperator(nodeA)).toBe(true)
    expect(await readers.kmsRegistry.isOperator(nodeB)).toBe(false)
  })
})

describe('registry_unavailable', () => {
  test('error: a dead RPC (closed port) fails every read', async () => {
    const dead = createChainReaders({
      rpcUrl: await closedPortUrl(),
      novaAppRegistry: chain.addresses.novaAppRegistry,
      kmsRegistry: chain.addresses.kmsRegistry,
    })
    await expectUnavailable(dead.novaAppRegistry.getInstanceByWallet(nodeA))
    await expectUnavailable(dead.novaAppRegistry.getApp(KMS_APP_ID))
    await expectUnavailable(dead.novaAppRegistry.getVersion(KMS_APP_ID, 1))
    await expectUnavailable(dead.novaAppRegistry.getActiveInstances(KMS_APP_ID))
    await expectUnavailable(dead.kmsRegistry.masterSecretHash())
    await expectUnavailable(dead.kmsRegistry.isOperator(nodeA))
    await expectUnavailable(dead.kmsRegistry.getOperators())
    await expectUnavailable(dead.kmsRegistry.kmsAppId())
  })

  test('error: an address with no contract is unavailable, never "not found"', async () => {
    const noCode = newWallet()
    const wrong = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: noCode, kmsRegistry: noCode })
    const error = await expectUnavailable(wrong.novaAppRegistry.getInstanceByWallet(nodeA))
    expect(error.details).toContain('returned no data')
    await expectUnavailable(wrong.novaAppRegistry.getApp(KMS_APP_ID))
    await expectUnavailable(wrong.novaAppRegistry.getVersion(KMS_APP_ID, 1))
    await expectUnavailable(wrong.kmsRegistry.masterSecretHash())
  })

  test('error: registries swapped (a contract with other functions) are unavailable', async () => {
    const swapped = createChainReaders({
      rpcUrl: chain.rpcUrl,
      novaAppRegistry: chain.addresses.kmsRegistry,
      kmsRegistry: chain.addresses.novaAppRegistry,
    })
    // KMSRegistry has no getApp and no fallback: the call reverts (empty revert data), and
    // PROTOCOL §3.3 reads any revert as "not found". Empty *return* data is another matter.
    expect(await swapped.novaAppRegistry.getApp(KMS_APP_ID)).toBeUndefined()
    await expectUnavailable(swapped.novaAppRegistry.getActiveInstances(KMS_APP_ID))
    await expectUnavailable(swapped.kmsRegistry.masterSecretHash())
  })

  test('error: an RPC that never answers times out', async () => {
    const silent = await startRpcDouble(() => 'hang')
    try {
      const slow = createChainReaders({
        rpcUrl: silent.url,
        novaAppRegistry: chain.addresses.novaAppRegistry,
        kmsRegistry: chain.addresses.kmsRegistry,
        timeoutMs: 300,
      })
      const started = Date.now()
      const error = await expectUnavailable(slow.novaAppRegistry.getInstanceByWallet(nodeA))
      expect(Date.now() - started).toBeLessThan(5000)
      expect(error.details).toMatch(/took too long/i)
    } finally {
      await silent.close()
    }
  })

  test('error: an RPC internal error (-32603) is unavailable, not a revert', async () => {
    const failing = await startRpcDouble(() => ({ error: { code: -32603, message: 'header not found' } }))
    try {
      const reader = createChainReaders({
        rpcUrl: failing.url,
        novaAppRegistry: chain.addresses.novaAppRegistry,
        kmsRegistry: chain.addresses.kmsRegistry,
      })
      await expectUnavailable(reader.novaAppRegistry.getApp(KMS_APP_ID))
      await expectUnavailable(reader.novaAppRegistry.getInstanceByWallet(nodeA))
    } finally {
      await failing.close()
    }
  })

  test('error: undecodable return data is unavailable', async () => {
    const garbage = await startRpcDouble(() => ({ result: '0x1234' }))
    try {
      const reader = createChainReaders({
        rpcUrl: garbage.url,
        novaAppRegistry: chain.addresses.novaAppRegistry,
        kmsRegistry: chain.addresses.kmsRegistry,
      })
      await expectUnavailable(reader.novaAppRegistry.getVersion(KMS_APP_ID, 1))
      await expectUnavailable(reader.kmsRegistry.getOperators())
    } finally {
      await garbage.close()
    }
  })

  test('error: an OffchainLookup revert is not followed (no CCIP-read from the node)', async () => {
    let lookups = 0
    const gateway = await startRpcDouble(() => ((lookups += 1), { result: '0x' }))
    const revertData = encodeErrorResult({
      abi: parseAbi(['error OffchainLookup(address sender, string[] urls, bytes callData, bytes4 callbackFunction, bytes extraData)']),
      errorName: 'OffchainLookup',
      args: [chain.addresses.novaAppRegistry, [`${gateway.url}/{sender}/{data}`], '0x', '0x12345678', '0x'],
    })
    const rpc = await startRpcDouble(() => ({ error: { code: 3, message: 'execution reverted', data: revertData } }))
    try {
      const reader = createChainReaders({
        rpcUrl: rpc.url,
        novaAppRegistry: chain.addresses.novaAppRegistry,
        kmsRegistry: chain.addresses.kmsRegistry,
      })
      expect(await reader.novaAppRegistry.getApp(KMS_APP_ID)).toBeUndefined()
      expect(lookups).toBe(0)
    } finally {
      await Promise.all([rpc.close(), gateway.close()])
    }
  })

  test('behavior: an answer about another wallet is not found', async () => {
    const real = await readers.novaAppRegistry.getInstanceByWallet(nodeA)
    const answer = encodeFunctionResult({
      abi: novaAppRegistryAbi,
      functionName: 'getInstanceByWallet',
      result: {
        instanceId: BigInt(real!.instanceId),
        appId: BigInt(real!.appId),
        versionId: BigInt(real!.versionId),
        operator: real!.operator,
        instanceUrl: real!.instanceUrl,
        teePubkey: toHex(real!.teePubkey),
        teeWalletAddress: nodeA,
        zkVerified: true,
        status: 0,
        registeredAt: BigInt(real!.registeredAt),
      },
    })
    const lying = await startRpcDouble(() => ({ result: answer }))
    try {
      const reader = createChainReaders({
        rpcUrl: lying.url,
        novaAppRegistry: chain.addresses.novaAppRegistry,
        kmsRegistry: chain.addresses.kmsRegistry,
      })
      expect(await reader.novaAppRegistry.getInstanceByWallet(nodeA)).toMatchObject({ teeWalletAddress: nodeA })
      expect(await reader.novaAppRegistry.getInstanceByWallet(nodeC)).toBeUndefined()
    } finally {
      await lying.close()
    }
  })
})

describe('arguments', () => {
  test('error: a malformed wallet or id is a caller bug, not a registry error', async () => {
    await expect(readers.novaAppRegistry.getInstanceByWallet('0x1234' as Wallet)).rejects.toThrow(TypeError)
    await expect(readers.novaAppRegistry.getApp(-1)).rejects.toThrow(RangeError)
    await expect(readers.novaAppRegistry.getVersion(1, 2 ** 53)).rejects.toThrow(RangeError)
    expect(() =>
      createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: '0xnope' as Wallet, kmsRegistry: nodeA }),
    ).toThrow(TypeError)
  })
})
