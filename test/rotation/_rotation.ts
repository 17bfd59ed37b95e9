/**
 * Shared plumbing of the rotation suites (issue 16, PROTOCOL §7.7, §9.1): the environment every
 * node runs with, a typed view of `/status` `epochs` (§2.1) and `/kms/ca` (§2.7), the owner's
 * KMSRegistry calls and their revert names, anvil's clock, KMS versions of the dev registry, and
 * a bounded loop that ticks the Miniflare nodes (process nodes tick by themselves) until a
 * condition holds.
 *
 * @module
 */
import { BaseError, ContractFunctionRevertedError, createTestClient, http, type Address, type Hex } from 'viem'
import { loadArtifact } from '../../contracts/deploy/artifacts'
import { connect } from '../../contracts/deploy/clients'
import type { EpochTarget } from '../../contracts/deploy/epochs'
import { generateWalletPrivateKey } from '../../core/crypto'
import { bytesToHex } from '../../core/encoding'
import type { DevChain } from '../helpers/devChain'
import { DEV_CODE_MEASUREMENT } from '../helpers/devMeasurement'
import { FAULT_ENV } from '../helpers/faults'
import { cryptoRandom, type NodeStatus, type TestNode } from '../helpers/kmsNodes'

/**
 * Ticks every second (process nodes), the registry cache at 1 s so an app's new key epoch is
 * seen quickly (§2.4 step 6), and the rate limits raised: all traffic comes from one client.
 */
export const ROTATION_ENV: Readonly<Record<string, string>> = { ...FAULT_ENV, REGISTRY_CACHE_TTL_SECONDS: '1' }

/** §2.1 `epochs`. */
export interface EpochsView {
  current: number
  serving: number | null
  live: number[]
  held: { epoch: number; hash: string }[]
  missing: number[]
  awaiting_commit: number | null
  wiped: number[]
  reencryption: { target_epoch: number | null; records_remaining: number; done: boolean }
  migration_reported: number | null
}

export type RotationStatus = NodeStatus & { epochs: EpochsView }

export async function rotationStatus(node: TestNode): Promise<RotationStatus> {
  return (await node.status()) as RotationStatus
}

export const heldEpochs = (status: RotationStatus): number[] => status.epochs.held.map((entry) => entry.epoch)

/** Serving on `epoch`, nothing left to re-encrypt, and the report of `epoch` sent (§7.7). */
export function hasMigrated(status: RotationStatus, epoch: number): boolean {
  const { epochs } = status
  return status.node.service_available && epochs.serving === epoch && epochs.reencryption.done && epochs.migration_reported === epoch
}

/** What a wait prints when it gives up: each node's readiness and epochs. */
export function describeStatuses(statuses: readonly RotationStatus[]): string {
  return statuses.map((status) => JSON.stringify({ reason: status.node.unavailable_reason, keys: status.data_store.total_keys, epochs: status.epochs })).join('\n')
}

export interface DriveOptions {
  /** Rounds before giving up; default 120. */
  rounds?: number
  /** Pause between rounds, so process nodes get their own ticks in; default 250 ms. */
  intervalMs?: number
  /** Also run `sync_tick` on the Miniflare nodes each round (default true). */
  sync?: boolean
}

/**
 * Each round: `probe()`; if it gives a value, that is returned; else one `node_tick` (and
 * `sync_tick`) on every Miniflare node of `nodes`, and a short pause. Bounded by `rounds`.
 * @throws Error naming `label` and the nodes' epochs once the rounds are spent.
 */
export async function driveUntil<T>(label: string, nodes: readonly TestNode[], probe: () => Promise<T | undefined | false>, options: DriveOptions = {}): Promise<T> {
  const rounds = options.rounds ?? 120
  for (let round = 0; round < rounds; round++) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    await tickRound(nodes, options.sync ?? true)
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250))
  }
  const value = await probe()
  if (value !== undefined && value !== false) return value
  const statuses = await Promise.all(nodes.map((node) => rotationStatus(node)))
  throw new Error(`${label}: not reached after ${rounds} rounds\n${describeStatuses(statuses)}`)
}

/** One `node_tick` (then `sync_tick`) on every Miniflare node, one node after another. */
export async function tickRound(nodes: readonly TestNode[], sync = true): Promise<void> {
  for (const node of nodes) {
    if (node.kind !== 'miniflare') continue
    await node.tick('node_tick')
    if (sync) await node.tick('sync_tick')
  }
}

/** The owner's target for contracts/deploy/epochs.ts. */
export function ownerTarget(chain: DevChain): EpochTarget & { rpcUrl: string } {
  return { clients: connect({ rpcUrl: chain.rpcUrl, privateKey: chain.ownerKey }), kmsRegistry: chain.addresses.kmsRegistry, rpcUrl: chain.rpcUrl }
}

/** A funded account that owns nothing. */
export async function strangerTarget(chain: DevChain): Promise<EpochTarget> {
  const key = `0x${bytesToHex(generateWalletPrivateKey(cryptoRandom))}` as Hex
  const clients = connect({ rpcUrl: chain.rpcUrl, privateKey: key })
  await chain.fund(clients.account.address)
  return { clients, kmsRegistry: chain.addresses.kmsRegistry }
}

/** The contract error a call reverted with (fails the test if it did not revert). */
export async function revertOf(run: Promise<unknown>): Promise<{ errorName: string; args: readonly unknown[] }> {
  const error = await run.then(
    () => undefined,
    (rejection: unknown) => rejection,
  )
  if (error === undefined) throw new Error('expected the call to revert')
  const reverted = error instanceof BaseError ? error.walk((cause) => cause instanceof ContractFunctionRevertedError) : undefined
  if (!(reverted instanceof ContractFunctionRevertedError) || reverted.data === undefined) throw error
  return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] }
}

/** `KMSRegistry.<functionName>(args)` simulated from the owner's account: what the chain itself would answer. */
export function simulateAsOwner(chain: DevChain, functionName: string, args: readonly unknown[]): Promise<unknown> {
  const { publicClient, account } = connect({ rpcUrl: chain.rpcUrl, privateKey: chain.ownerKey })
  return publicClient.simulateContract({ address: chain.addresses.kmsRegistry, abi: loadArtifact('KMSRegistry').abi, functionName, args, account })
}

/** Moves anvil's clock forward and mines a block, so the next call sees the new time. */
export async function increaseChainTime(chain: DevChain, seconds: number): Promise<void> {
  const testClient = createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) })
  await testClient.increaseTime({ seconds })
  await testClient.mine({ blocks: 1 })
}

/** Enrolls another version of the KMS app, with the dev measurement so peer attestation passes (§4.5). */
export async function enrollKmsVersion(chain: DevChain, versionId: number): Promise<void> {
  await chain.enrollVersion({
    appId: chain.addresses.kmsAppId,
    versionId,
    versionName: `v${versionId}`,
    codeMeasurement: `0x${bytesToHex(DEV_CODE_MEASUREMENT)}` as Hex,
    imageUri: '',
  })
}

/** As registerKmsNode, on a given version of the KMS app. */
export async function registerKmsNodeOnVersion(chain: DevChain, node: TestNode, versionId: number): Promise<{ instanceId: number; wallet: string }> {
  const { node: self } = await node.status()
  await chain.fund(self.tee_wallet as Address)
  const instanceId = await chain.registerInstance({ versionId, teeWalletAddress: self.tee_wallet as Address, teePubkey: `0x${self.tee_pubkey}` as Hex, instanceUrl: node.url })
  return { instanceId, wallet: self.tee_wallet }
}

/** §2.7. */
export interface CaView {
  ca_certificate: string
  fingerprint_sha256: string
  epoch: number
  previous?: { ca_certificate: string; fingerprint_sha256: string; epoch: number }
}

export async function caOf(node: TestNode): Promise<CaView> {
  const response = await node.fetch('/kms/ca')
  if (response.status !== 200) throw new Error(`/kms/ca answered ${response.status}`)
  return (await response.json()) as CaView
}

/**
 * The dev identity of a process node (§11 `NODE_PRIVATE_KEY`, `NODE_ENCRYPTION_KEY`), so that a
 * restarted process is the same registered instance: the same wallet and teePubkey.
 */
export function devIdentityEnv(): { NODE_PRIVATE_KEY: string; NODE_ENCRYPTION_KEY: string } {
  const scalar = cryptoRandom.bytes(48)
  // Below the P-384 group order (which starts with 0xff…): a valid scalar, never zero.
  scalar[0] = 0x7f
  return { NODE_PRIVATE_KEY: bytesToHex(generateWalletPrivateKey(cryptoRandom)), NODE_ENCRYPTION_KEY: bytesToHex(scalar) }
}

/** Runs `tasks` with at most `concurrency` at once; resolves with every result, in order. */
export async function runPool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let index = next++; index < count; index = next++) results[index] = await task(index)
    }),
  )
  return results
}
