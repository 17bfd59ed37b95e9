/**
 * Two-step ownership of KMSRegistry through the ops CLI (issue 19): ownership-status,
 * ownership-transfer and ownership-accept against a fresh anvil with the real contracts. The
 * owner-only commands follow the current owner; the old one is refused once the nominee
 * has accepted. The tests share one chain and run in order.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { zeroAddress, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type Anvil } from '../helpers/anvil'
import { ANVIL_OWNER_KEY, buildContracts } from '../helpers/devChain'
import { cliError, cliJson } from './_cli'

const OWNER = privateKeyToAccount(ANVIL_OWNER_KEY).address.toLowerCase()

let anvil: Anvil
let rpc: string[]
let kms: string[]
const nominee = generatePrivateKey()
const other = generatePrivateKey()
const nomineeAddress = privateKeyToAccount(nominee).address.toLowerCase()
const otherAddress = privateKeyToAccount(other).address.toLowerCase()

async function fund(key: Hex): Promise<void> {
  await fetch(anvil.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_setBalance', params: [privateKeyToAccount(key).address, '0x56bc75e2d63100000'] }),
  })
}

beforeAll(async () => {
  await buildContracts()
  anvil = await startAnvil()
  rpc = ['--rpc-url', anvil.rpcUrl]
  const deployed = await cliJson(['deploy', ...rpc])
  kms = ['--kms-registry', deployed['kmsRegistry'] as string]
  await Promise.all([fund(nominee), fund(other)])
}, 120_000)

afterAll(() => anvil?.stop())

test('behavior: ownership-status names the deployer and no nominee', async () => {
  expect(await cliJson(['ownership-status', ...rpc, ...kms])).toEqual({ owner: OWNER, pendingOwner: null })
})

test('behavior: only the owner nominates', async () => {
  expect(await cliError(['ownership-transfer', ...rpc, ...kms, '--to', nomineeAddress, '--private-key', nominee])).toBe('NotOwner()')
  expect(await cliJson(['ownership-status', ...rpc, ...kms])).toEqual({ owner: OWNER, pendingOwner: null })
})

test('behavior: a second nomination replaces the first, which can no longer accept', async () => {
  await cliJson(['ownership-transfer', ...rpc, ...kms, '--to', otherAddress])
  expect(await cliJson(['ownership-transfer', ...rpc, ...kms, '--to', nomineeAddress])).toMatchObject({ pendingOwner: nomineeAddress })
  expect(await cliError(['ownership-accept', ...rpc, ...kms, '--private-key', other])).toBe('NotPendingOwner()')
  expect(await cliJson(['ownership-status', ...rpc, ...kms])).toEqual({ owner: OWNER, pendingOwner: nomineeAddress })
})

test('behavior: until the nominee accepts, the old owner keeps its rights', async () => {
  await cliJson(['reset-master-secret-hash', ...rpc, ...kms])
})

test('behavior: the nominee accepts; the old owner is refused and the new one obeyed', async () => {
  expect(await cliJson(['ownership-accept', ...rpc, ...kms, '--private-key', nominee])).toMatchObject({ owner: nomineeAddress })
  expect(await cliJson(['ownership-status', ...rpc, ...kms])).toEqual({ owner: nomineeAddress, pendingOwner: null })
  expect(await cliJson(['status', ...rpc, ...kms])).toMatchObject({ owner: nomineeAddress })
  expect(await cliJson(['rotation-status', ...rpc, ...kms])).toMatchObject({ owner: nomineeAddress })
  expect(await cliError(['reset-master-secret-hash', ...rpc, ...kms])).toBe('NotOwner()')
  await cliJson(['reset-master-secret-hash', ...rpc, ...kms, '--private-key', nominee])
  // The old owner can no longer nominate itself back.
  expect(await cliError(['ownership-transfer', ...rpc, ...kms, '--to', OWNER])).toBe('NotOwner()')
})

test('behavior: a nomination to the zero address cancels it', async () => {
  await cliJson(['ownership-transfer', ...rpc, ...kms, '--to', otherAddress, '--private-key', nominee])
  expect(await cliJson(['ownership-transfer', ...rpc, ...kms, '--to', zeroAddress, '--private-key', nominee])).toMatchObject({ pendingOwner: null })
  expect(await cliError(['ownership-accept', ...rpc, ...kms, '--private-key', other])).toBe('NotPendingOwner()')
})
