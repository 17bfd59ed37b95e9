/**
 * A dev chain for integration tests: anvil with the real contracts, deployed by the project's
 * own deploy code (DESIGN §5), plus owner helpers bound to it.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createTestClient, http, parseEther, type Address, type Hex } from 'viem'
import { connect } from '../../contracts/deploy/clients'
import { deployContracts, type DeployedContracts } from '../../contracts/deploy/deploy'
import {
  enrollVersion,
  registerApp,
  registerInstance,
  setAppStatus,
  setInstanceStatus,
  setInstanceZkVerified,
  setVersionStatus,
  type EnrollVersionParameters,
  type RegisterAppParameters,
  type RegisterInstanceParameters,
} from '../../contracts/deploy/devRegistry'
import { resetMasterSecretHash } from '../../contracts/deploy/kmsRegistry'
import { startAnvil } from './anvil'

/** anvil's first default account (the well-known "test test … junk" mnemonic). */
export const ANVIL_OWNER_KEY: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'

const CONTRACTS_DIRECTORY = fileURLToPath(new URL('../../contracts/', import.meta.url))
const BUILD_LOCK = `${CONTRACTS_DIRECTORY}cache/.vitest-build.lock`
const STALE_LOCK_MS = 180_000

type Bound<T> = Omit<T, 'clients' | 'novaAppRegistry'>

export interface DevChain {
  rpcUrl: string
  addresses: DeployedContracts
  ownerKey: Hex
  stop(): Promise<void>
  registerApp(parameters: Bound<RegisterAppParameters>): Promise<unknown>
  enrollVersion(parameters: Bound<EnrollVersionParameters>): Promise<unknown>
  /** Registers an instance; defaults: the KMS app, version 1, zkVerified, a test URL. */
  registerInstance(
    parameters: Pick<RegisterInstanceParameters, 'teeWalletAddress'> & Partial<Bound<RegisterInstanceParameters>>,
  ): Promise<number>
  setAppStatus(appId: number, status: number): Promise<unknown>
  setVersionStatus(appId: number, versionId: number, status: number): Promise<unknown>
  setInstanceStatus(instanceId: number, status: number): Promise<unknown>
  setInstanceZkVerified(instanceId: number, zkVerified: boolean): Promise<unknown>
  resetMasterSecretHash(): Promise<unknown>
  /** Gives `wallet` 100 ETH (anvil_setBalance), e.g. a TEE wallet that must send a transaction. */
  fund(wallet: Address): Promise<void>
}

/**
 * Runs `forge build`, one worker at a time: concurrent builds rewrite the same artifacts,
 * and a reader could catch one half-written.
 */
export async function buildContracts(): Promise<void> {
  mkdirSync(`${CONTRACTS_DIRECTORY}cache`, { recursive: true })
  while (!tryLock()) await new Promise((resolve) => setTimeout(resolve, 200))
  try {
    await promisify(execFile)('npx', ['forge', 'build'], { cwd: CONTRACTS_DIRECTORY })
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true })
  }
}

function tryLock(): boolean {
  try {
    mkdirSync(BUILD_LOCK) // atomic: fails if another worker holds the lock
    return true
  } catch {
    const lock = statSync(BUILD_LOCK, { throwIfNoEntry: false })
    // A lock older than any build was left by a crashed worker.
    if (lock && Date.now() - lock.mtimeMs > STALE_LOCK_MS) rmSync(BUILD_LOCK, { recursive: true, force: true })
    return false
  }
}

export async function startDevChain({ kmsAppId = 49 }: { kmsAppId?: number } = {}): Promise<DevChain> {
  await buildContracts()
  const anvil = await startAnvil()
  try {
    const addresses = await deployContracts({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_OWNER_KEY, kmsAppId })
    const clients = connect({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_OWNER_KEY })
    const target = { clients, novaAppRegistry: addresses.novaAppRegistry }
    const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
    return {
      rpcUrl: anvil.rpcUrl,
      addresses,
      ownerKey: ANVIL_OWNER_KEY,
      stop: anvil.stop,
      registerApp: (parameters) => registerApp({ ...target, ...parameters }),
      enrollVersion: (parameters) => enrollVersion({ ...target, ...parameters }),
      registerInstance: async (parameters) => {
        const registered = await registerInstance({
          appId: kmsAppId,
          versionId: 1,
          operator: addresses.owner,
          instanceUrl: 'http://127.0.0.1:1',
          teePubkey: '0x',
          zkVerified: true,
          ...target,
          ...parameters,
        })
        return registered.instanceId
      },
      setAppStatus: (appId, status) => setAppStatus({ ...target, appId, status }),
      setVersionStatus: (appId, versionId, status) => setVersionStatus({ ...target, appId, versionId, status }),
      setInstanceStatus: (instanceId, status) => setInstanceStatus({ ...target, instanceId, status }),
      setInstanceZkVerified: (instanceId, zkVerified) => setInstanceZkVerified({ ...target, instanceId, zkVerified }),
      resetMasterSecretHash: () => resetMasterSecretHash({ clients, kmsRegistry: addresses.kmsRegistry }),
      fund: (wallet) => testClient.setBalance({ address: wallet, value: parseEther('100') }),
    }
  } catch (error) {
    await anvil.stop()
    throw error
  }
}
