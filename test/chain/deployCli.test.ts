/**
 * The deploy/ops CLI end to end, as an operator runs it (`npx tsx contracts/deploy/cli.ts`),
 * against a fresh anvil: JSON on stdout, `{"error"}` on stderr with status 1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { keccak256, toBytes, toHex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { submitSetMasterSecretHash } from '../../core/chain'
import { startAnvil, type Anvil } from '../helpers/anvil'
import { ANVIL_OWNER_KEY, buildContracts } from '../helpers/devChain'
import { cli, cliJson } from './_cli'
import { localSigner } from './_doubles'


let anvil: Anvil
let rpc: string[]

beforeAll(async () => {
  await buildContracts()
  anvil = await startAnvil()
  rpc = ['--rpc-url', anvil.rpcUrl]
})

afterAll(() => anvil?.stop())

describe('dev chain', () => {
  let deployed: { novaAppRegistry: string; kmsRegistry: string; owner: string; kmsAppId: number }
  const node = localSigner(generatePrivateKey())

  test('behavior: deploy creates both contracts, wired, and prints their addresses', async () => {
    deployed = (await cliJson(['deploy', ...rpc, '--kms-app-id', '49'], {
      DEPLOYER_PRIVATE_KEY: ANVIL_OWNER_KEY,
    })) as typeof deployed
    expect(deployed).toMatchObject({ kmsAppId: 49, owner: '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', devRegistry: true })
    expect(deployed.novaAppRegistry).toMatch(/^0x[0-9a-f]{40}$/)
    expect(deployed.kmsRegistry).toMatch(/^0x[0-9a-f]{40}$/)
  })

  test('behavior: status reads both contracts', async () => {
    expect(await cliJson(['status', ...rpc, '--kms-registry', deployed.kmsRegistry])).toEqual({
      chainId: 31337,
      kmsRegistry: deployed.kmsRegistry,
      owner: deployed.owner,
      novaAppRegistry: deployed.novaAppRegistry,
      kmsAppId: 49,
      masterSecretHash: `0x${'00'.repeat(32)}`,
      operators: [],
      kmsApp: { status: 0, dappContract: deployed.kmsRegistry, latestVersionId: 1 },
      activeInstances: [],
    })
  })

  test('behavior: register-instance reaches KMSRegistry through the callback', async () => {
    const registered = await cliJson([
      'register-instance',
      ...rpc,
      '--private-key',
      ANVIL_OWNER_KEY,
      '--nova-app-registry',
      deployed.novaAppRegistry,
      '--app-id',
      '49',
      '--version-id',
      '1',
      '--tee-wallet',
      node.wallet,
      '--instance-url',
      'http://127.0.0.1:4001',
    ])
    expect(registered).toMatchObject({ instanceId: 1, transactionHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) })
    const status = await cliJson(['status', ...rpc, '--kms-registry', deployed.kmsRegistry])
    expect(status).toMatchObject({ operators: [node.wallet], activeInstances: [node.wallet] })
  })

  test('error: a revert prints the contract error by name, with status 1', async () => {
    const result = await cli([
      'register-instance',
      ...rpc,
      '--private-key',
      ANVIL_OWNER_KEY,
      '--nova-app-registry',
      deployed.novaAppRegistry,
      '--app-id',
      '49',
      '--version-id',
      '1',
      '--tee-wallet',
      node.wallet,
    ])
    expect(result.status).toBe(1)
    expect(result.stdout).toBe('')
    expect(JSON.parse(result.stderr.trim().split('\n').at(-1)!)).toEqual({
      error: `NovaAppRegistryWalletAlreadyRegistered(${node.wallet})`,
    })
  })

  test('behavior: reset-master-secret-hash brings back the zero hash', async () => {
    await anvilFund(node.wallet)
    const hash = toBytes(keccak256(toBytes('cli secret')))
    await submitSetMasterSecretHash({ rpcUrl: anvil.rpcUrl, kmsRegistry: deployed.kmsRegistry as `0x${string}`, hash, signer: node })
    const committed = await cliJson(['status', ...rpc, '--kms-registry', deployed.kmsRegistry])
    expect(committed.masterSecretHash).toBe(toHex(hash))

    await cliJson(['reset-master-secret-hash', ...rpc, '--private-key', ANVIL_OWNER_KEY, '--kms-registry', deployed.kmsRegistry])
    const reset = await cliJson(['status', ...rpc, '--kms-registry', deployed.kmsRegistry])
    expect(reset.masterSecretHash).toBe(`0x${'00'.repeat(32)}`)
  })

  test('behavior: status changes go through set-instance-status and friends', async () => {
    const target = ['--private-key', ANVIL_OWNER_KEY, '--nova-app-registry', deployed.novaAppRegistry]
    await cliJson(['set-zk-verified', ...rpc, ...target, '--instance-id', '1', '--zk-verified', 'false'])
    await cliJson(['set-version-status', ...rpc, ...target, '--app-id', '49', '--version-id', '1', '--status', 'DEPRECATED'])
    await cliJson(['set-instance-status', ...rpc, ...target, '--instance-id', '1', '--status', 'STOPPED'])
    const stopped = await cliJson(['status', ...rpc, '--kms-registry', deployed.kmsRegistry])
    expect(stopped).toMatchObject({ operators: [], activeInstances: [] })
    await cliJson(['set-app-status', ...rpc, ...target, '--app-id', '49', '--status', 'inactive'])
    const app = await cliJson(['status', ...rpc, '--kms-registry', deployed.kmsRegistry])
    expect(app.kmsApp).toMatchObject({ status: 1 })
  })

  test('behavior: deploy --nova-app-registry deploys only KMSRegistry, pointed at it', async () => {
    const second = await cliJson([
      'deploy',
      ...rpc,
      '--private-key',
      ANVIL_OWNER_KEY,
      '--nova-app-registry',
      deployed.novaAppRegistry,
      '--kms-app-id',
      '50',
    ])
    expect(second).toMatchObject({ novaAppRegistry: deployed.novaAppRegistry, kmsAppId: 50, devRegistry: false })
    expect(second.kmsRegistry).not.toBe(deployed.kmsRegistry)
    const status = await cliJson(['status', ...rpc, '--kms-registry', String(second.kmsRegistry)])
    // App 50 was never created on that registry: getApp reverts.
    expect(status).toMatchObject({ kmsAppId: 50, novaAppRegistry: deployed.novaAppRegistry, kmsApp: null })
  })
})

describe('arguments', () => {
  test('error: an unknown command prints the usage, with status 1', async () => {
    const result = await cli(['bogus'])
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('usage: npx tsx contracts/deploy/cli.ts')
  })

  test('error: a write without a key names the missing flag', async () => {
    const result = await cli(['reset-master-secret-hash', ...rpc, '--kms-registry', `0x${'00'.repeat(20)}`], {
      DEPLOYER_PRIVATE_KEY: '',
    })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('--private-key: expected 0x-prefixed hex')
  })

  test('error: deploy against an address with no contract refuses', async () => {
    const result = await cli(['deploy', ...rpc, '--private-key', ANVIL_OWNER_KEY, '--nova-app-registry', `0x${'12'.repeat(20)}`])
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('no contract at')
  })
})

async function anvilFund(wallet: string): Promise<void> {
  await fetch(anvil.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_setBalance', params: [wallet, '0x56bc75e2d63100000'] }),
  })
}
