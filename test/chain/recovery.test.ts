/**
 * The recovery views and publishBackup (issue 15) against the real KMSRegistry on anvil:
 * "none" only for the exact NoRecoveryPolicy/NoBackup errors, the shares round-trip, and a
 * second publication is refused distinguishably (another node won the race).
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { bytesToHex, keccak256, toBytes } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { loadArtifact } from '../../contracts/deploy/artifacts'
import { connect } from '../../contracts/deploy/clients'
import { writeAndWait } from '../../contracts/deploy/transact'
import {
  createChainReaders,
  createKmsRecoveryReader,
  createRpcClient,
  isBackupAlreadyPublished,
  submitPublishBackup,
  submitSetMasterSecretHash,
} from '../../core/chain'
import type { KmsRecoveryReader } from '../../core/chain'
import { KmsError } from '../../core/errors'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { closedPortUrl, localSigner } from './_doubles'

let chain: DevChain
let reader: KmsRecoveryReader

function p384Spki(): Uint8Array {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
}

const custodians = [0, 1, 2].map(() => ({
  sealingKey: p384Spki(),
  approver: localSigner(generatePrivateKey()).wallet,
}))

beforeAll(async () => {
  chain = await startDevChain()
  reader = createKmsRecoveryReader({
    rpc: createRpcClient({ rpcUrl: chain.rpcUrl }),
    address: chain.addresses.kmsRegistry,
  })
})

afterAll(() => chain?.stop())

test('no policy yet: activeRecoveryPolicy and recoveryPolicy(1) read as none', async () => {
  expect(await reader.activeRecoveryPolicy()).toBeUndefined()
  expect(await reader.recoveryPolicy(1)).toBeUndefined()
  expect(await reader.backup(new Uint8Array(32).fill(1), 1)).toBeUndefined()
})

test('an unreachable chain is registry_unavailable, never none', async () => {
  const offline = createKmsRecoveryReader({
    rpc: createRpcClient({ rpcUrl: await closedPortUrl() }),
    address: chain.addresses.kmsRegistry,
  })
  const error = await offline.activeRecoveryPolicy().catch((rejection: unknown) => rejection)
  expect(error).toBeInstanceOf(KmsError)
  expect((error as KmsError).code).toBe('registry_unavailable')
  const backupError = await offline.backup(new Uint8Array(32), 1).catch((rejection: unknown) => rejection)
  expect((backupError as KmsError).code).toBe('registry_unavailable')
})

test('a revert that is not NoRecoveryPolicy/NoBackup is registry_unavailable, never none', async () => {
  // NovaAppRegistry has no getRecoveryPolicy: the call reverts without KMSRegistry's error.
  const wrong = createKmsRecoveryReader({
    rpc: createRpcClient({ rpcUrl: chain.rpcUrl }),
    address: chain.addresses.novaAppRegistry,
  })
  for (const read of [() => wrong.recoveryPolicy(1), () => wrong.backup(new Uint8Array(32), 1), () => wrong.sealedShare(new Uint8Array(32), 1, 0)]) {
    const error = await read().catch((rejection: unknown) => rejection)
    expect(error).toBeInstanceOf(KmsError)
    expect((error as KmsError).code).toBe('registry_unavailable')
  }
})

test('a 2-of-3 policy, a backup published once, the shares read back', async () => {
  const clients = connect({ rpcUrl: chain.rpcUrl, privateKey: chain.ownerKey })
  await writeAndWait(clients, {
    address: chain.addresses.kmsRegistry,
    abi: loadArtifact('KMSRegistry').abi,
    functionName: 'setInitialRecoveryPolicy',
    args: [custodians.map((c) => ({ sealingKey: bytesToHex(c.sealingKey), approver: c.approver })), 2],
  })
  const policy = await reader.activeRecoveryPolicy()
  expect(policy).toEqual({
    policyId: 1,
    threshold: 2,
    custodians: custodians.map((c) => ({ sealingKeyDer: c.sealingKey, approver: c.approver.toLowerCase() })),
  })

  const node = localSigner(generatePrivateKey())
  await chain.registerInstance({ teeWalletAddress: node.wallet })
  await chain.fund(node.wallet)
  const secretHash = toBytes(keccak256(toBytes('recovery secret')))
  const readers = createChainReaders({
    rpcUrl: chain.rpcUrl,
    novaAppRegistry: chain.addresses.novaAppRegistry,
    kmsRegistry: chain.addresses.kmsRegistry,
  })
  await submitSetMasterSecretHash({ rpcUrl: chain.rpcUrl, kmsRegistry: chain.addresses.kmsRegistry, hash: secretHash, signer: node })
  await expect.poll(async () => bytesToHex(await readers.kmsRegistry.masterSecretHash())).toBe(bytesToHex(secretHash))

  // Worst-size shares: 1024 bytes each.
  const sealedShares = [1, 2, 3].map((fill) => new Uint8Array(1024).fill(fill))
  const shareCommitments = [1, 2, 3].map((fill) => toBytes(keccak256(new Uint8Array([fill]))))
  const parameters = { rpcUrl: chain.rpcUrl, kmsRegistry: chain.addresses.kmsRegistry, secretHash, sealedShares, shareCommitments, signer: node }
  await submitPublishBackup(parameters)
  await expect.poll(async () => (await reader.backup(secretHash, 1)) !== undefined).toBe(true)

  const backup = await reader.backup(secretHash, 1)
  expect(backup).toMatchObject({ policyId: 1, publisher: node.wallet.toLowerCase(), shareCommitments })
  for (const index of [0, 1, 2]) {
    expect(await reader.sealedShare(secretHash, 1, index)).toEqual({
      sealedShare: sealedShares[index],
      commitment: shareCommitments[index],
    })
  }
  expect(await reader.sealedShare(secretHash, 2, 0)).toBeUndefined()

  // Out of range is not "no backup": the revert is ShareIndexOutOfRange.
  const outOfRange = await reader.sealedShare(secretHash, 1, 3).catch((rejection: unknown) => rejection)
  expect((outOfRange as KmsError).code).toBe('registry_unavailable')

  const second = await submitPublishBackup(parameters).catch((rejection: unknown) => rejection)
  expect(second).toBeInstanceOf(KmsError)
  expect((second as KmsError).details).toBe('simulate publishBackup: reverted with BackupAlreadyPublished')
  expect(isBackupAlreadyPublished(second)).toBe(true)

  // A stranger's publication is refused by name, and is not the benign race.
  const stranger = localSigner(generatePrivateKey())
  await chain.fund(stranger.wallet)
  const refused = await submitPublishBackup({ ...parameters, signer: stranger }).catch((rejection: unknown) => rejection)
  expect((refused as KmsError).details).toBe('simulate publishBackup: reverted with NotAuthorizedToSetHash')
  expect(isBackupAlreadyPublished(refused)).toBe(false)
})
