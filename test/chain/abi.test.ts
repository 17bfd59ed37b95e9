/**
 * The `as const` ABIs in core/chain against forge's artifacts (PROTOCOL §9.1, §9.2): every
 * item the node uses must exist in the compiled contract with the same types, names and
 * tuple field order.
 */
import { beforeAll, describe, expect, test } from 'vitest'
import { toFunctionSelector, type Abi, type AbiFunction } from 'viem'
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
