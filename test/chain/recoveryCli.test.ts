/**
 * The recovery-policy commands of the deploy CLI (issue 15) and the functions behind the
 * custodian's approve/veto, against a fresh anvil: the owner sets the first policy alone, a
 * later one needs the custodians' approvals or the timelock, and every refusal is an error.
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { bytesToHex, createTestClient, http, parseEther, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { connect } from '../../contracts/deploy/clients'
import { approveRecoveryPolicy, readRecoveryState, vetoRecoveryPolicy } from '../../contracts/deploy/recoveryPolicy'
import { startAnvil, type Anvil } from '../helpers/anvil'
import { buildContracts } from '../helpers/devChain'
import { cliJson, cliError } from './_cli'

const TIMELOCK = 120

interface Custodian {
  key: Hex
  approver: Address
  sealingKey: Hex
}

function custodian(): Custodian {
  const key = generatePrivateKey()
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  return {
    key,
    approver: privateKeyToAccount(key).address.toLowerCase() as Address,
    sealingKey: bytesToHex(new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))),
  }
}

const list = (custodians: Custodian[]) => custodians.map((c) => `${c.sealingKey}:${c.approver}`).join(',')

let anvil: Anvil
let rpc: string[]
let kmsRegistry: Address
const first = [custodian(), custodian(), custodian()]
const second = [custodian(), custodian()]
const third = [custodian(), custodian(), custodian()]

beforeAll(async () => {
  await buildContracts()
  anvil = await startAnvil()
  rpc = ['--rpc-url', anvil.rpcUrl]
  const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
  for (const c of [...first, ...second]) await testClient.setBalance({ address: c.approver, value: parseEther('1') })
  const deployed = await cliJson(['deploy', ...rpc, '--kms-app-id', '49', '--policy-timelock-seconds', String(TIMELOCK)])
  kmsRegistry = deployed.kmsRegistry as Address
})

afterAll(() => anvil?.stop())

const target = (key: Hex) => ({ clients: connect({ rpcUrl: anvil.rpcUrl, privateKey: key }), kmsRegistry })
const show = () => cliJson(['recovery-show', ...rpc, '--kms-registry', kmsRegistry])

test('behavior: the lifecycle of a policy through the CLI, approvals and the timelock', async () => {
  expect(await show()).toEqual({ recoveryPolicyId: 0, policyTimelockSeconds: TIMELOCK, policy: null, pendingProposal: null })
  expect(await cliError(['recovery-propose', ...rpc, '--kms-registry', kmsRegistry, '--custodians', list(second), '--threshold', '1'])).toMatch(
    /NoRecoveryPolicy/,
  )

  expect(
    await cliJson(['recovery-set-initial', ...rpc, '--kms-registry', kmsRegistry, '--custodians', list(first), '--threshold', '2']),
  ).toMatchObject({ policyId: 1 })
  const state = await show()
  expect(state).toMatchObject({
    recoveryPolicyId: 1,
    policy: { policyId: 1, threshold: 2, custodians: first.map((c) => ({ sealingKey: c.sealingKey, approver: c.approver })) },
    pendingProposal: null,
  })
  expect(await cliError(['recovery-set-initial', ...rpc, '--kms-registry', kmsRegistry, '--custodians', list(second), '--threshold', '1'])).toMatch(
    /RecoveryPolicyAlreadySet/,
  )

  // Approval path: two of the first three approve, the second policy is active at once.
  const proposed = await cliJson(['recovery-propose', ...rpc, '--kms-registry', kmsRegistry, '--custodians', list(second), '--threshold', '1'])
  expect(proposed).toMatchObject({ proposalId: 1 })
  expect(await cliJson(['recovery-show', ...rpc, '--kms-registry', kmsRegistry, '--proposal-id', '1'])).toMatchObject({
    proposalId: 1,
    basePolicyId: 1,
    threshold: 1,
    approvals: 0,
    state: 'Pending',
    executableAt: proposed.executableAt,
  })
  await expect(approveRecoveryPolicy({ ...target(second[0]!.key), proposalId: 1 })).rejects.toThrow(/NotCustodian/)
  await approveRecoveryPolicy({ ...target(first[0]!.key), proposalId: 1 })
  await expect(vetoRecoveryPolicy({ ...target(first[0]!.key), proposalId: 1 })).rejects.toThrow(/AlreadyVoted/)
  expect((await show()).recoveryPolicyId).toBe(1)
  await approveRecoveryPolicy({ ...target(first[2]!.key), proposalId: 1 })
  expect(await show()).toMatchObject({ recoveryPolicyId: 2, policy: { policyId: 2, threshold: 1 }, pendingProposal: null })

  // Timelock path: the new custodians do not vote; it activates only after TIMELOCK seconds.
  const timed = await cliJson(['recovery-propose', ...rpc, '--kms-registry', kmsRegistry, '--custodians', list(third), '--threshold', '2'])
  expect(await cliError(['recovery-activate', ...rpc, '--kms-registry', kmsRegistry, '--proposal-id', String(timed.proposalId)])).toMatch(
    /TimelockNotExpired/,
  )
  const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
  await testClient.increaseTime({ seconds: TIMELOCK })
  await testClient.mine({ blocks: 1 })
  await cliJson(['recovery-activate', ...rpc, '--kms-registry', kmsRegistry, '--proposal-id', String(timed.proposalId)])
  expect(await show()).toMatchObject({ recoveryPolicyId: 3, policy: { threshold: 2 } })
  expect(await cliJson(['recovery-show', ...rpc, '--kms-registry', kmsRegistry, '--policy-id', '1'])).toMatchObject({ policyId: 1, threshold: 2 })
})

test('behavior: cancel withdraws a pending proposal; a veto at threshold kills one', async () => {
  const state = await readRecoveryState({ rpcUrl: anvil.rpcUrl, kmsRegistry })
  const current = state.policy!
  const proposed = await cliJson(['recovery-propose', ...rpc, '--kms-registry', kmsRegistry, '--custodians', list(first), '--threshold', '3'])
  expect(await cliJson(['recovery-cancel', ...rpc, '--kms-registry', kmsRegistry, '--proposal-id', String(proposed.proposalId)])).toHaveProperty(
    'transactionHash',
  )
  expect(await cliJson(['recovery-show', ...rpc, '--kms-registry', kmsRegistry, '--proposal-id', String(proposed.proposalId)])).toMatchObject({
    state: 'Cancelled',
  })
  expect((await show()).recoveryPolicyId).toBe(current.policyId)

  // The third policy's custodians (2 of 3) veto the next proposal.
  const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
  for (const c of third) await testClient.setBalance({ address: c.approver, value: parseEther('1') })
  const vetoed = await cliJson(['recovery-propose', ...rpc, '--kms-registry', kmsRegistry, '--custodians', list(first), '--threshold', '2'])
  const proposalId = Number(vetoed.proposalId)
  await vetoRecoveryPolicy({ ...target(third[0]!.key), proposalId })
  await vetoRecoveryPolicy({ ...target(third[1]!.key), proposalId })
  await testClient.increaseTime({ seconds: TIMELOCK })
  await testClient.mine({ blocks: 1 })
  expect(await cliError(['recovery-activate', ...rpc, '--kms-registry', kmsRegistry, '--proposal-id', String(proposalId)])).toMatch(
    /ProposalNotPending/,
  )
  expect((await show()).recoveryPolicyId).toBe(current.policyId)
})

test('behavior: a malformed --custodians is refused before any transaction', async () => {
  expect(await cliError(['recovery-propose', ...rpc, '--kms-registry', kmsRegistry, '--custodians', '0x1234:0x0000000000000000000000000000000000000001', '--threshold', '1'])).toMatch(
    /120 bytes/,
  )
  expect(await cliError(['recovery-propose', ...rpc, '--kms-registry', kmsRegistry, '--custodians', 'nonsense', '--threshold', '1'])).toMatch(
    /expected <sealing key hex>:<approver address>/,
  )
})
