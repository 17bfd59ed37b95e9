/**
 * The `as const` ABIs in core/chain against forge's artifacts (PROTOCOL §9.1, §9.2): every
 * item the node uses must exist in the compiled contract with the same types, names and
 * tuple field order.
 */
import { beforeAll, describe, expect, test } from 'vitest'
import { toEventSelector, toFunctionSelector, type Abi, type AbiEvent, type AbiFunction } from 'viem'
import { loadArtifact } from '../../contracts/deploy/artifacts'
import { kmsRegistryAbi, novaAppRegistryAbi } from '../../core/chain'
import { buildContracts } from '../helpers/devChain'

/** forge adds `internalType`; the node's ABI does not need it. */
function withoutInternalTypes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutInternalTypes)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'internalType')
      .map(([key, inner]) => [key, withoutInternalTypes(inner)]),
  )
}

function findItem(abi: Abi, item: { type: string; name: string }): unknown {
  const match = abi.find((candidate) => candidate.type === item.type && 'name' in candidate && candidate.name === item.name)
  return withoutInternalTypes(match)
}

beforeAll(buildContracts)

describe.each([
  ['NovaAppRegistry', novaAppRegistryAbi],
  ['KMSRegistry', kmsRegistryAbi],
] as const)('%s', (contract, abi) => {
  test.each(abi.map((item) => [`${item.type} ${item.name}`, item] as const))(
    'vector: %s matches the forge artifact',
    (_, item) => {
      expect(findItem(loadArtifact(contract).abi, item)).toEqual(item)
    },
  )
})

test('vector: the selectors PROTOCOL §9 pins', () => {
  const selector = (abi: Abi, name: string) =>
    toFunctionSelector(abi.find((item): item is AbiFunction => item.type === 'function' && item.name === name)!)
  expect(selector(novaAppRegistryAbi, 'getApp')).toBe('0x24f3a51b')
  expect(selector(novaAppRegistryAbi, 'getVersion')).toBe('0x6987b075')
  expect(selector(novaAppRegistryAbi, 'getInstanceByWallet')).toBe('0x9863f8a2')
  expect(selector(novaAppRegistryAbi, 'getActiveInstances')).toBe('0x8c228cbf')
  expect(selector(kmsRegistryAbi, 'masterSecretHash')).toBe('0x1ef99d10')
  expect(selector(kmsRegistryAbi, 'setMasterSecretHash')).toBe('0x4df7e390')
  expect(selector(kmsRegistryAbi, 'isOperator')).toBe('0x6d70f7ae')
  expect(selector(kmsRegistryAbi, 'getOperators')).toBe('0x27a099d8')
  expect(selector(kmsRegistryAbi, 'kmsAppId')).toBe('0xabd851f1')
})

test('vector: the recovery selectors PROTOCOL §9.1 pins (issue 15)', () => {
  const selector = (name: string) =>
    toFunctionSelector(kmsRegistryAbi.find((item): item is AbiFunction & typeof item => item.type === 'function' && item.name === name)!)
  expect(selector('recoveryPolicyId')).toBe('0x52ccb5f4')
  expect(selector('getRecoveryPolicy')).toBe('0xaff730f6')
  expect(selector('publishBackup')).toBe('0x1fa20485')
  expect(selector('hasBackup')).toBe('0x506d0995')
  expect(selector('getBackup')).toBe('0xdd726843')
  expect(selector('getSealedShare')).toBe('0x1a34fb38')
})

test('vector: the key-epoch selectors PROTOCOL §9.1 pins (issue 16)', () => {
  const selector = (name: string) =>
    toFunctionSelector(kmsRegistryAbi.find((item): item is AbiFunction & typeof item => item.type === 'function' && item.name === name)!)
  expect(selector('currentEpoch')).toBe('0x76671808')
  expect(selector('masterSecretHashOf')).toBe('0x8f2dcbb4')
  expect(selector('isEpochRetired')).toBe('0x3d1a1e85')
  expect(selector('epochStartedAt')).toBe('0x2bab2591')
  expect(selector('migratedEpochOf')).toBe('0xa0e27ad5')
  expect(selector('RETIRE_GRACE_SECONDS')).toBe('0x38dcd4f7')
  expect(selector('appKeyEpoch')).toBe('0xe56a2b13')
  expect(selector('recoveryPolicyEpoch')).toBe('0x6a816d7b')
  expect(selector('reportEpochMigrated')).toBe('0x072a5b49')
})

test('vector: the ownership selectors and topics PROTOCOL §9.1 pins (issue 19)', () => {
  const selector = (name: string) =>
    toFunctionSelector(kmsRegistryAbi.find((item): item is AbiFunction & typeof item => item.type === 'function' && item.name === name)!)
  const topic = (name: string) =>
    toEventSelector(kmsRegistryAbi.find((item): item is AbiEvent & typeof item => item.type === 'event' && item.name === name)!)
  expect(selector('owner')).toBe('0x8da5cb5b')
  expect(selector('pendingOwner')).toBe('0xe30c3978')
  expect(selector('transferOwnership')).toBe('0xf2fde38b')
  expect(selector('acceptOwnership')).toBe('0x79ba5097')
  expect(topic('OwnershipTransferStarted')).toBe('0x38d16b8cac22d99fc7c124b9cd0de2d3fa1faef420bfe791d8c362d765e22700')
  expect(topic('OwnershipTransferred')).toBe('0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0')
  // OWNER() stays in the artifact for the upstream ABI, reading the same owner.
  expect(loadArtifact('KMSRegistry').abi.some((item) => item.type === 'function' && item.name === 'OWNER')).toBe(true)
})
