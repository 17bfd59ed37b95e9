/**
 * `KeyRing`: the one owner of the cluster master secret and of every key derived from it
 * (PROTOCOL §5.2–§5.5, §8.1): app keys, the per-app data keys, the /sync HMAC key, the CA key,
 * and the sealed copy handed to a joining peer. No other module reads the secret; they ask
 * the ring for an operation instead.
 *
 * Keys are held per epoch. Today there is exactly one, the current epoch, so every public
 * method works on it; rotation adds epochs here and nowhere else.
 *
 * @module
 */
import { buildCaCertificate, deriveCaKey, type CaCertificate, type CaKey } from '../ca'
import {
  computeSyncSignature,
  decryptRecord,
  deriveAppKey,
  deriveDataKey,
  deriveSyncKey,
  encryptRecord,
  generateP384PrivateKey,
  importRecordKey,
  parseP384PublicKey,
  masterSecretHash,
  sealMasterSecret,
  verifySyncSignature,
  type RecordKey,
  type SealedMasterSecret,
} from '../crypto'
import { bytesEqual, type JsonValue } from '../encoding'
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import type { RecoveryPolicy } from '../chain/types'
import { RecoveryShareCollector, recoveryShareCommitment, sealRecoveryShare, splitSecret } from '../recovery'

/** A backup ready for `publishBackup` (PROTOCOL §7.6): custodian order throughout. */
export interface RecoveryBackupPayload {
  readonly secretHash: Uint8Array
  readonly policyId: number
  readonly sealedShares: readonly Uint8Array[]
  readonly shareCommitments: readonly Uint8Array[]
}

/** Where the installed secret came from (§2.1 `master_secret.state`). */
export type MasterSecretState = 'uninitialized' | 'generated' | 'synced' | 'recovered'

export interface KeyRingOptions {
  /** The KMS app id, which the CA certificate names (§8.2). */
  kmsAppId: number
}

/** What one epoch's secret gives; built once when the epoch's secret is installed. */
interface EpochKeys {
  readonly secret: Uint8Array
  /** keccak256(secret), compared with the chain's `masterSecretHash` (§7.1). */
  readonly hash: Uint8Array
  readonly syncKey: Uint8Array
  /** Per-app AES-GCM record keys (§5.3), imported on first use. */
  readonly dataKeys: Map<number, Promise<RecordKey>>
  certificateAuthority?: { caKey: CaKey; caCertificate: CaCertificate }
}

/** The epoch every operation uses until rotation exists. */
const CURRENT_EPOCH = 0

/** The §7.3 reason every key-dependent route answers while no secret is installed. */
export function notReady(): KmsError {
  return new KmsError('service_unavailable', 'master secret not initialized')
}

export class KeyRing {
  readonly #kmsAppId: number
  readonly #epochs = new Map<number, EpochKeys>()
  #state: MasterSecretState = 'uninitialized'
  #syncedFrom: string | null = null

  constructor(options: KeyRingOptions) {
    this.#kmsAppId = options.kmsAppId
  }

  /** True once a secret is installed for the current epoch. */
  get isInstalled(): boolean {
    return this.#epochs.has(CURRENT_EPOCH)
  }

  get state(): MasterSecretState {
    return this.#state
  }

  /** The peer URL the secret was synced from, when `state` is `synced`. */
  get syncedFrom(): string | null {
    return this.#syncedFrom
  }

  /** keccak256 of the current secret (public: the chain holds it), or `undefined`. */
  get hash(): Uint8Array | undefined {
    return this.#epochs.get(CURRENT_EPOCH)?.hash.slice()
  }

  /** True when a secret is installed and its keccak256 equals `chainHash` (§7.5). */
  matches(chainHash: Uint8Array): boolean {
    const epoch = this.#epochs.get(CURRENT_EPOCH)
    return epoch !== undefined && bytesEqual(epoch.hash, chainHash)
  }

  /**
   * Installs a 32-byte secret, generated here or preloaded. Every derived key is computed
   * before the swap, so no caller ever mixes keys of two secrets.
   * @throws RangeError when `secret` is not 32 bytes.
   */
  async install(secret: Uint8Array, state: 'generated'): Promise<void>
  async install(secret: Uint8Array, state: 'synced', syncedFrom: string): Promise<void>
  async install(secret: Uint8Array, state: 'recovered'): Promise<void>
  async install(secret: Uint8Array, state: Exclude<MasterSecretState, 'uninitialized'>, syncedFrom: string | null = null): Promise<void> {
    if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new RangeError('master secret must be 32 bytes')
    await this.#installEpoch(CURRENT_EPOCH, secret)
    this.#state = state
    this.#syncedFrom = state === 'synced' ? syncedFrom : null
  }

  /**
   * Installs a secret that a peer served, only if its keccak256 equals the chain's commitment
   * (§7.1 step 7.2, fix). `beforeReplace` runs first when it replaces an installed secret,
   * so that whatever depends on the old one is dropped before the new one is in place.
   * @returns false, installing nothing, when the hash differs.
   */
  async installIfCommitted(
    candidate: Uint8Array,
    chainHash: Uint8Array,
    syncedFrom: string,
    hooks: { beforeReplace?: () => void } = {},
  ): Promise<boolean> {
    if (candidate.length !== 32 || !bytesEqual(masterSecretHash(candidate), chainHash)) return false
    if (this.isInstalled) hooks.beforeReplace?.()
    await this.install(candidate, 'synced', syncedFrom)
    return true
  }

  /**
   * Combines the collector's shares and installs the result as `recovered` (§7.6), only if
   * its keccak256 equals the collector's chain hash; the shares are wiped once installed.
   * @returns the collector's verdict; on `combine_failed` nothing is installed and the
   *   shares are kept (the caller reports the error in /status).
   */
  async installRecovered(collector: RecoveryShareCollector): Promise<'recovered' | 'combine_failed'> {
    const result = collector.combine()
    if (result.kind !== 'recovered') return 'combine_failed'
    try {
      await this.install(result.secret, 'recovered')
    } finally {
      result.secret.fill(0)
    }
    collector.clear()
    return 'recovered'
  }

  /**
   * Splits the current secret for `policy` and seals each share to its custodian (§7.6), so
   * the secret never leaves the ring. One ephemeral sender key per backup.
   * @throws KmsError 503 without a secret; 400 `bad_request` when a custodian key is not a
   *   P-384 point (checked for every key before anything is sealed).
   */
  async buildRecoveryBackup(params: {
    policy: RecoveryPolicy
    chainId: number
    kmsRegistry: `0x${string}`
    random: Random
  }): Promise<RecoveryBackupPayload> {
    const epoch = this.#require()
    const { policy, random } = params
    policy.custodians.forEach((custodian, index) => {
      if (parseP384PublicKey(custodian.sealingKeyDer) === undefined) {
        throw new KmsError('bad_request', 'custodian key is not a P-384 public key', { details: `policy ${policy.policyId} custodian ${index}` })
      }
    })
    const shares = splitSecret({ secret: epoch.secret, shares: policy.custodians.length, threshold: policy.threshold, random })
    try {
      const ephemeralKey = await generateP384PrivateKey(random)
      const sealedShares: Uint8Array[] = []
      for (const [index, custodian] of policy.custodians.entries()) {
        sealedShares.push(
          await sealRecoveryShare({
            ephemeralKey,
            custodianKeyDer: custodian.sealingKeyDer,
            binding: { chainId: params.chainId, kmsRegistry: params.kmsRegistry, secretHash: epoch.hash, policyId: policy.policyId, index, threshold: policy.threshold },
            share: shares[index]!,
            random,
          }),
        )
      }
      return { secretHash: epoch.hash.slice(), policyId: policy.policyId, sealedShares, shareCommitments: shares.map(recoveryShareCommitment) }
    } finally {
      for (const share of shares) share.fill(0)
    }
  }

  /**
   * The app key of HKDF v1 (§5.2) under the current secret.
   * @throws KmsError 503 without a secret; RangeError/TypeError for bad parameters.
   */
  async deriveAppKey(params: { appId: number; path: string; context: string; length: number }): Promise<Uint8Array> {
    return deriveAppKey({ masterSecret: this.#require().secret, ...params })
  }

  /** Encrypts a record value under `appId`'s data key (§5.3). @throws KmsError 503 without a secret. */
  async encryptValue(appId: number, plaintext: Uint8Array, nonce: Uint8Array): Promise<Uint8Array> {
    return encryptRecord(await this.#dataKey(this.#require(), appId), plaintext, nonce)
  }

  /**
   * Decrypts a stored record of `appId` (§5.3).
   * @throws KmsError 503 without a secret; the cipher's error when the record does not open.
   */
  async decryptValue(appId: number, ciphertext: Uint8Array): Promise<Uint8Array> {
    return decryptRecord(await this.#dataKey(this.#require(), appId), ciphertext)
  }

  /** Whether `ciphertext` opens under `appId`'s data key (§6.7); false without a secret. */
  readonly canDecrypt = async (appId: number, ciphertext: Uint8Array): Promise<boolean> => {
    const epoch = this.#epochs.get(CURRENT_EPOCH)
    if (epoch === undefined) return false
    return decryptRecord(await this.#dataKey(epoch, appId), ciphertext).then(
      () => true,
      () => false,
    )
  }

  /**
   * `X-Sync-Signature` over a wire envelope (§5.4); with `nonce`, the v2 MAC of §3.6.
   * `undefined` without a secret (§4.1 step 4).
   */
  async signSyncBody(envelope: JsonValue, nonce?: string): Promise<string | undefined> {
    const epoch = this.#epochs.get(CURRENT_EPOCH)
    return epoch === undefined ? undefined : computeSyncSignature(epoch.syncKey, envelope, nonce)
  }

  /** Checks a received `X-Sync-Signature` (§4.2 step 7), v2 when `nonce` is given; false without a secret. */
  async verifySyncBody(body: unknown, signature: string, nonce?: string): Promise<boolean> {
    const epoch = this.#epochs.get(CURRENT_EPOCH)
    if (epoch === undefined) return false
    return verifySyncSignature({ syncKey: epoch.syncKey, body, signature, ...(nonce === undefined ? {} : { nonce }) })
  }

  /**
   * The secret sealed to a requester's ephemeral P-384 key (§5.5), for `master_secret_request`.
   * @throws KmsError 503 without a secret; 400 for a key that is not a P-384 point.
   */
  async sealSecretFor(requesterPublicKeyDer: Uint8Array, random: Random): Promise<SealedMasterSecret> {
    return sealMasterSecret({ requesterPublicKeyDer, masterSecret: this.#require().secret, random })
  }

  /**
   * The cluster CA (§8.1–§8.2), built once per secret: every node holding the same secret
   * builds the same bytes.
   * @throws KmsError 503 without a secret.
   */
  certificateAuthority(): { caKey: CaKey; caCertificate: CaCertificate } {
    const epoch = this.#require()
    if (epoch.certificateAuthority === undefined) {
      const caKey = deriveCaKey(epoch.secret)
      epoch.certificateAuthority = { caKey, caCertificate: buildCaCertificate({ caKey, kmsAppId: this.#kmsAppId }) }
    }
    return epoch.certificateAuthority
  }

  #require(epoch = CURRENT_EPOCH): EpochKeys {
    const keys = this.#epochs.get(epoch)
    if (keys === undefined) throw notReady()
    return keys
  }

  #dataKey(epoch: EpochKeys, appId: number): Promise<RecordKey> {
    let key = epoch.dataKeys.get(appId)
    if (key === undefined) {
      key = deriveDataKey(epoch.secret, appId).then(importRecordKey)
      // A failed import must not stay cached: the next call tries again.
      key.catch(() => epoch.dataKeys.delete(appId))
      epoch.dataKeys.set(appId, key)
    }
    return key
  }

  async #installEpoch(epoch: number, secret: Uint8Array): Promise<void> {
    // A copy the caller cannot reach (`slice` of a Node Buffer would share its memory).
    const copy = new Uint8Array(secret)
    const syncKey = await deriveSyncKey(copy)
    this.#epochs.set(epoch, { secret: copy, hash: masterSecretHash(copy), syncKey, dataKeys: new Map() })
  }
}
