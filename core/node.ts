/**
 * `KmsNode`: the one object that holds a node's state, created once per isolate or process
 * and handed to every function (DESIGN §2, §3). It holds collaborators, not logic: each
 * operation lives in its concern and takes only what it uses.
 *
 * @module
 */
import { NonceStore, RateLimiter } from './auth'
import { createCachedRegistry, createChainReaders, submitSetMasterSecretHash, type CachedRegistry, type ChainReaders } from './chain'
import { MasterSecretHolder, PeerWatermarks, PeerCache, Readiness, SyncClient, TickSchedule, type Sleep } from './cluster'
import { readConfig, type ConfigEnvironment, type NodeConfig } from './config'
import { decryptRecord, deriveDataKey, importRecordKey, type RecordKey } from './crypto'
import type { Wallet } from './encoding'
import { Metrics } from './metrics'
import type { Clock, Random } from './runtime'
import { KvStore } from './store'
import { createLocalTee, createOdynTee, devRootCertificateDer, issueDevAttestation, type Tee } from './tee'

import { awsNitroRootG1Der, loadTrustedRoot } from './attestation'
import { buildCaCertificate, deriveCaKey, type CaCertificate, type CaKey } from './ca'
import { KmsError } from './errors'

/** What the runtime (bundle/) provides. */
export interface KmsNodeRuntime {
  env: ConfigEnvironment
  clock: Clock
  random: Random
  sleep: Sleep
  fetch: typeof fetch
  log: LogSink
  /** The package version, for `/status`. */
  version: string
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogSink = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void

export class KmsNode {
  readonly config: NodeConfig
  readonly clock: Clock
  readonly random: Random
  readonly sleep: Sleep
  readonly fetch: typeof fetch
  readonly version: string
  readonly tee: Tee
  readonly chain: ChainReaders
  /** NovaAppRegistry through the read-through cache (§3.3). */
  readonly registry: CachedRegistry
  readonly nonces: NonceStore
  readonly limiters: { global: RateLimiter; nonce: RateLimiter; app: RateLimiter }
  readonly store: KvStore
  readonly secret = new MasterSecretHolder()
  readonly readiness = new Readiness()
  readonly peers: PeerCache
  readonly metrics = new Metrics()
  /** The attestation root apps are verified against; `undefined` means the AWS pin. */
  readonly trustedAttestationRoot: Uint8Array | undefined
  /** Learnt on the first tick (wallet) and from the registry (URL). */
  readonly identity: { wallet: Wallet | undefined; instanceUrl: string }
  readonly snapshotMerged = { value: false }
  readonly syncClient: SyncClient
  readonly watermarks = new PeerWatermarks()
  readonly ticks: TickSchedule
  readonly #log: LogSink
  readonly #recordKeys = new Map<number, Promise<RecordKey>>()
  #recordKeysGeneration = -1
  #certificateAuthority: { generation: number; caKey: CaKey; caCertificate: CaCertificate } | undefined

  private constructor(runtime: KmsNodeRuntime, config: NodeConfig, tee: Tee, trustedRoot: Uint8Array | undefined) {
    const { clock, random } = runtime
    this.config = config
    this.clock = clock
    this.random = random
    this.sleep = runtime.sleep
    this.fetch = runtime.fetch
    this.version = runtime.version
    this.#log = runtime.log
    this.tee = tee
    this.trustedAttestationRoot = trustedRoot
    this.identity = { wallet: undefined, instanceUrl: config.nodeInstanceUrl }
    this.chain = createChainReaders({
      rpcUrl: config.chainRpcUrl,
      novaAppRegistry: config.novaAppRegistryAddress,
      kmsRegistry: config.kmsRegistryAddress,
      fetch: runtime.fetch,
    })
    this.registry = createCachedRegistry(this.chain.novaAppRegistry, { clock, ttlSeconds: config.registryCacheTtlSeconds })
    this.nonces = new NonceStore({ clock, random, ttlSeconds: config.popTimeoutSeconds, capacity: config.maxNonces })
    const limiter = (ratePerMinute: number): RateLimiter => new RateLimiter({ clock, ratePerMinute, maxBuckets: config.maxRateBuckets })
    this.limiters = {
      global: limiter(config.rateLimitPerMinute),
      nonce: limiter(config.nonceRateLimitPerMinute),
      app: limiter(config.appRateLimitPerMinute),
    }
    this.store = new KvStore({
      clock,
      nodeWallet: () => this.identity.wallet,
      limits: {
        maxAppStorageBytes: config.maxAppStorageBytes,
        maxValueSizeBytes: config.maxKvValueSizeBytes,
        tombstoneRetentionMs: config.tombstoneRetentionMs,
        maxTombstonesPerApp: config.maxTombstonesPerApp,
        maxClockSkewMs: config.maxClockSkewMs,
      },
    })
    this.ticks = new TickSchedule(clock, config)
    this.syncClient = new SyncClient({
      fetch: runtime.fetch,
      tee,
      clock,
      random,
      ownWallet: () => this.identity.wallet,
      syncKey: () => this.secret.installed?.syncKey,
      store: this.store,
      canDecrypt: this.canDecrypt,
    })
    this.peers = new PeerCache({
      registry: this.chain.novaAppRegistry,
      kmsAppId: config.kmsAppId,
      mode: config.mode,
      clock,
      ttlSeconds: config.peerCacheTtlSeconds,
    })
  }

  /**
   * Reads the configuration and builds the node. Nothing here reaches the network: the
   * first tick does.
   * @throws KmsError `internal_error` naming an invalid or forbidden variable (§11).
   */
  static async create(runtime: KmsNodeRuntime): Promise<KmsNode> {
    const config = readConfig(runtime.env)
    // Enclave mode trusts only the embedded AWS root, checked against its pin here, at node
    // creation (§3.2.3); dev mode trusts NITRO_ROOT_CERT_PEM or the dev root.
    if (config.mode === 'enclave') awsNitroRootG1Der()
    const trustedRoot = config.mode === 'enclave' ? undefined : loadTrustedRoot(config.nitroRootCertPem) ?? devRootCertificateDer()
    const tee: Tee =
      config.mode === 'enclave'
        ? createOdynTee({ baseUrl: config.odynUrl, fetch: runtime.fetch })
        : await createLocalTee({
            ...(config.nodePrivateKey === undefined ? {} : { walletPrivateKey: config.nodePrivateKey }),
            random: runtime.random,
            issueAttestation: (params) => issueDevAttestation({ ...params, nowMs: runtime.clock.nowMs(), random: runtime.random }),
          })
    const node = new KmsNode(runtime, config, tee, trustedRoot)
    // The stand-in knows its wallet without I/O; in enclave mode the first tick reads it (§7.1 step 1).
    if (config.mode === 'dev') node.identity.wallet = await tee.getWallet()
    if (config.masterSecret !== undefined) await node.secret.install(config.masterSecret, 'generated')
    return node
  }

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    this.#log(level, message, fields)
  }

  /** The node's wallet, once the first tick has read it. */
  get wallet(): Wallet | undefined {
    return this.identity.wallet
  }

  /**
   * The AES-GCM key of `appId`'s records under the installed secret (§5.3), imported once
   * per secret.
   * @throws KmsError `service_unavailable` when no secret is installed: no plaintext fallback.
   */
  recordKey(appId: number): Promise<RecordKey> {
    const installed = this.secret.installed
    if (installed === undefined) return Promise.reject(new KmsError('service_unavailable', 'master secret not initialized'))
    if (this.#recordKeysGeneration !== this.secret.generation) {
      this.#recordKeys.clear()
      this.#recordKeysGeneration = this.secret.generation
    }
    let key = this.#recordKeys.get(appId)
    if (key === undefined) {
      key = deriveDataKey(installed.secret, appId).then(importRecordKey)
      this.#recordKeys.set(appId, key)
    }
    return key
  }

  /**
   * The cluster CA under the installed secret (§8.1–§8.2), built once per secret: every node
   * holding the same secret builds the same bytes.
   * @throws KmsError `service_unavailable` without a secret.
   */
  certificateAuthority(): { caKey: CaKey; caCertificate: CaCertificate } {
    const installed = this.secret.installed
    if (installed === undefined) throw new KmsError('service_unavailable', 'master secret not initialized')
    if (this.#certificateAuthority?.generation !== this.secret.generation) {
      const caKey = deriveCaKey(installed.secret)
      this.#certificateAuthority = {
        generation: this.secret.generation,
        caKey,
        caCertificate: buildCaCertificate({ caKey, kmsAppId: this.config.kmsAppId }),
      }
    }
    return this.#certificateAuthority
  }

  /** Whether `ciphertext` opens under `appId`'s data key (§6.7); false without a secret. */
  readonly canDecrypt = async (appId: number, ciphertext: Uint8Array): Promise<boolean> => {
    if (this.secret.installed === undefined) return false
    return decryptRecord(await this.recordKey(appId), ciphertext).then(
      () => true,
      () => false,
    )
  }

  /** Submits `setMasterSecretHash` through the TEE signer (§9.3). */
  async submitMasterSecretHash(hash: Uint8Array): Promise<void> {
    await submitSetMasterSecretHash({
      rpcUrl: this.config.chainRpcUrl,
      kmsRegistry: this.config.kmsRegistryAddress,
      hash,
      signer: this.tee,
      fetch: this.fetch,
    })
  }
}
