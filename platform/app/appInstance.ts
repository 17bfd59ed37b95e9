/**
 * One Nova app instance as its runtime holds it: the TEE wallet, the P-384 key whose public
 * half is the registered teePubkey, the decrypt replay memory, and, with KMS integration,
 * the runtime-like KMS client and the app wallet kept through it.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import type { Sleep } from '../../core/cluster'
import { createChainReaders } from '../../core/chain'
import { createRuntimeKmsClient, type FetchFunction, type NodeDirectory, type RuntimeKmsClient } from '../../core/client'
import { importP384PrivateKey, ReplayMemory, type P384PrivateKey } from '../../core/crypto'
import type { Wallet } from '../../core/encoding'
import type { Clock, Random } from '../../core/runtime'
import type { InstancePcrs } from '../config/instancePcrs'
import type { RuntimeConfig } from '../config/parseDevnetConfig'
import { AppWalletVault } from './appWalletVault'

export interface AppInstance {
  readonly appId: number
  readonly walletKey: Uint8Array
  readonly wallet: Wallet
  /** The wallet's uncompressed secp256k1 public key (65 bytes). */
  readonly walletPublicKey: Uint8Array
  readonly teeKey: P384PrivateKey
  /** PCR0..2 of its documents; `undefined`: all zero (the dev stand-in's debug documents). */
  readonly pcrs: InstancePcrs | undefined
  readonly clock: Clock
  readonly random: Random
  /** `(client key, nonce)` pairs `/v1/encryption/decrypt` accepted (PROTOCOL §10.2). */
  readonly decryptReplays: ReplayMemory
  /** Absent without KMS integration. */
  readonly kms: KmsIntegration | undefined
}

export interface KmsIntegration {
  readonly client: RuntimeKmsClient
  /** Refreshed in the background by the server (RUNTIME.md §1: every 20 s). */
  readonly directory: NodeDirectory
  /** The app wallet, kept in the app's KV namespace. */
  readonly appWallet: AppWalletVault
}

export interface AppInstanceRuntime {
  /** Binding towards the KMS (PROTOCOL §3.5); 1, as the real runtime, unless asked. */
  bindingVersion?: 1 | 2
  clock: Clock
  random: Random
  sleep: Sleep
  fetch?: FetchFunction
}

/** @throws RangeError if the configured P-384 scalar is not a key (parseDevnetConfig checks it first). */
export async function createAppInstance(config: RuntimeConfig, runtime: AppInstanceRuntime): Promise<AppInstance> {
  const teeKey = await importP384PrivateKey(config.teeScalar)
  const connection =
    config.kms === undefined
      ? undefined
      : createRuntimeKmsClient({
          registry: createChainReaders({
            rpcUrl: config.kms.rpcUrl,
            novaAppRegistry: config.kms.novaAppRegistry,
            kmsRegistry: config.kms.kmsRegistry,
          }).novaAppRegistry,
          kmsAppId: config.kms.kmsAppId,
          appId: config.appId,
          walletKey: config.walletKey,
          teeKey,
          ...runtime,
        })
  return {
    appId: config.appId,
    walletKey: config.walletKey,
    wallet: config.wallet,
    walletPublicKey: secp256k1.getPublicKey(config.walletKey, false),
    teeKey,
    pcrs: config.pcrs,
    clock: runtime.clock,
    random: runtime.random,
    decryptReplays: new ReplayMemory(),
    kms: connection === undefined ? undefined : { ...connection, appWallet: new AppWalletVault(connection.client, runtime.random) },
  }
}
