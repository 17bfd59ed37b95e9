/**
 * `KeyRing`: the one owner of the cluster master secret and of every key derived from it
 * (PROTOCOL §5.2–§5.5, §8.1): app keys, the per-app data keys, the /sync HMAC key, the CA key,
 * and the sealed copy handed to a joining peer. No other module reads the secret; they ask
 * the ring for an operation instead.
 *
 * Keys are held per cluster epoch (§7.7): at most the two live epochs, each installed only
 * once its keccak256 matched the chain. The **serving epoch**, which `node_tick` names, is the
 * one new values, default derives, the CA and backups use; a stored value is opened under
 * the epoch it names. A secret generated for an epoch whose hash is not committed yet is a
 * *candidate*: held apart, never used for anything but its hash, until the chain names it.
 *
 * @module
 */
import { buildCaCertificate, deriveCaKey, type CaCertificate, type CaKey } from '../ca'
import {
  computeSyncSignature,
  decryptRecord,
  deriveAppKey,
  deriveDataKey,
  deriveReencryptNonceKey,
  deriveSyncKey,
  encryptRecord,
  reencryptRecord,
  generateP384PrivateKey,
  importRecordKey,
  parseP384PublicKey,
  masterSecretHash,
  MAX_KEY_EPOCH,
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
  readonly epoch: number
  readonly secret: Uint8Array
  /** keccak256(secret), compared with the chain's `masterSecretHashOf(epoch)` (§7.1, §7.7). */
  readonly hash: Uint8Array
  readonly syncKey: Uint8Array
  readonly state: Exclude<MasterSecretState, 'uninitialized'>
  readonly syncedFrom: string | null
  /** Per-app AES-GCM record keys (§5.3), imported on first use. */
  readonly dataKeys: Map<number, Promise<RecordKey>>
  /** Per-app re-encryption nonce keys (§6.10), derived on first use. */
  readonly nonceKeys: Map<number, Promise<Uint8Array>>
  certificateAuthority?: { caKey: CaKey; caCertificate: CaCertificate; epoch: number }
}

/** A generated secret whose hash the node submitted for `epoch` but the chain does not hold yet. */
interface Candidate {
  readonly epoch: number
  readonly secret: Uint8Array
  readonly hash: Uint8Array
}

/** An epoch number as the chain and the wire carry it (§7.7): 0..2^32−1. */
export const MAX_EPOCH = MAX_KEY_EPOCH

/** The §7.3 reason a route answers for an epoch this node does not hold (yet, or any more). */
export function epochNotHeld(epoch: number): KmsError {
  return new KmsError('service_unavailable', `master secret of epoch ${epoch} not held`)
}

/** The §7.3 reason every key-dependent route answers while no secret is installed. */
export function notReady(): KmsError {
  return new KmsError('service_unavailable', 'master secret not initialized')
}

export class KeyRing {
  readonly #kmsAppId: number
  readonly #epochs = new Map<number, EpochKeys>()
  #candidate: Candidate | undefined
  /** Named by `node_tick` (§7.7); until then the newest held epoch serves. */
  #serving: number | undefined

  constructor(options: KeyRingOptions) {
    this.#kmsAppId = options.kmsAppId
  }

  /** True once a secret is installed for some epoch. */
  get isInstalled(): boolean {
    return this.#epochs.size > 0
  }

  /** The epochs whose secret is held, oldest first. */
  get heldEpochs(): number[] {
    return [...this.#epochs.keys()].sort((left, right) => left - right)
  }

  /** True when the secret of `epoch` is held. */
  holds(epoch: number): boolean {
    return this.#epochs.has(epoch)
  }

  /**
   * The epoch new values, default derives, the CA and backups use: the one `node_tick` named
   * with {@link serveOn} while it is held, else the newest held; `undefined` without a secret.
   */
  get servingEpoch(): number | undefined {
    if (this.#serving !== undefined && this.#epochs.has(this.#serving)) return this.#serving
    const held = this.heldEpochs
    return held.length === 0 ? undefined : held[held.length - 1]
  }

  /** `node_tick`'s choice (§7.7): the newest epoch whose held secret matches the chain. */
  serveOn(epoch: number): void {
    this.#serving = epoch
  }

  /** Where the serving epoch's secret came from (§2.1 `master_secret.state`). */
  get state(): MasterSecretState {
    return this.#servingKeys()?.state ?? 'uninitialized'
  }

  /** The peer URL the serving secret was synced from, when `state` is `synced`. */
  get syncedFrom(): string | null {
    return this.#servingKeys()?.syncedFrom ?? null
  }

  /** keccak256 of the serving secret (public: the chain holds it), or `undefined`. */
  get hash(): Uint8Array | undefined {
    return this.#servingKeys()?.hash.slice()
  }

  /** keccak256 of the secret held for `epoch`, or `undefined`. */
  hashOf(epoch: number): Uint8Array | undefined {
    return this.#epochs.get(epoch)?.hash.slice()
  }

  /** True when some held secret's keccak256 equals `chainHash` (§7.5). */
  matches(chainHash: Uint8Array): boolean {
    for (const keys of this.#epochs.values()) if (bytesEqual(keys.hash, chainHash)) return true
    return false
  }

  /** True when the secret held for `epoch` has keccak256 `chainHash` (§7.7). */
  matchesEpoch(epoch: number, chainHash: Uint8Array): boolean {
    const keys = this.#epochs.get(epoch)
    return keys !== undefined && bytesEqual(keys.hash, chainHash)
  }

  /**
   * Installs a 32-byte secret for epoch 0, generated here or preloaded. Every derived key is
   * computed before the swap, so no caller ever mixes keys of two secrets.
   * @throws RangeError when `secret` is not 32 bytes.
   */
  async install(secret: Uint8Array, state: 'generated'): Promise<void>
  async install(secret: Uint8Array, state: 'synced', syncedFrom: string): Promise<void>
  async install(secret: Uint8Array, state: 'recovered'): Promise<void>
  async install(secret: Uint8Array, state: Exclude<MasterSecretState, 'uninitialized'>, syncedFrom: string | null = null): Promise<void> {
    await this.#installEpoch(0, secret, state, syncedFrom)
  }

  /**
   * Installs a secret that a peer served for `epoch` (default 0), only if its keccak256
   * equals the chain's commitment (§7.1 step 7.2, fix). `beforeReplace` runs first when it
   * replaces a different secret of that epoch, so that whatever depends on the old one is
   * dropped before the new one is in place.
   * @returns false, installing nothing, when the hash differs.
   */
  async installIfCommitted(
    candidate: Uint8Array,
    chainHash: Uint8Array,
    syncedFrom: string,
    options: { beforeReplace?: () => void; epoch?: number } = {},
  ): Promise<boolean> {
    const epoch = options.epoch ?? 0
    if (candidate.length !== 32 || !bytesEqual(masterSecretHash(candidate), chainHash)) return false
    if (this.#epochs.has(epoch)) options.beforeReplace?.()
    await this.#installEpoch(epoch, candidate, 'synced', syncedFrom)
    return true
  }

  /** The candidate of `epoch` (§7.7 item 2): its hash, or `undefined` when there is none. */
  candidateHash(epoch: number): Uint8Array | undefined {
    return this.#candidate?.epoch === epoch ? this.#candidate.hash.slice() : undefined
  }

  /**
   * Keeps 32 fresh bytes as the candidate of `epoch`, replacing any other candidate. It
   * serves nothing until {@link promoteCandidate} finds the chain holds its hash.
   * @returns keccak256 of the candidate, to submit.
   */
  setCandidate(epoch: number, secret: Uint8Array): Uint8Array {
    if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new RangeError('master secret must be 32 bytes')
    this.dropCandidate()
    const copy = new Uint8Array(secret)
    this.#candidate = { epoch, secret: copy, hash: masterSecretHash(copy) }
    return this.#candidate.hash.slice()
  }

  /**
   * Installs the candidate as epoch `epoch`'s secret when the chain committed its hash.
   * @returns true when installed; false (keeping it) when the chain holds another hash.
   */
  async promoteCandidate(epoch: number, chainHash: Uint8Array): Promise<boolean> {
    const candidate = this.#candidate
    if (candidate?.epoch !== epoch || !bytesEqual(candidate.hash, chainHash)) return false
    await this.#installEpoch(epoch, candidate.secret, 'generated', null)
    this.dropCandidate()
    return true
  }

  /** Zeroes and forgets the candidate (another node's hash won, or its epoch moved on). */
  dropCandidate(): void {
    this.#candidate?.secret.fill(0)
    this.#candidate = undefined
  }

  /**
   * Wipes the secret of `epoch` and every key derived from it (§7.7 item 1): its bytes are
   * zeroed, so nothing in this process can use them again.
   * @returns false when the epoch was not held.
   */
  wipe(epoch: number): boolean {
    const keys = this.#epochs.get(epoch)
    if (keys === undefined) return false
    this.#epochs.delete(epoch)
    keys.secret.fill(0)
    keys.syncKey.fill(0)
    keys.dataKeys.clear()
    keys.nonceKeys.clear()
    keys.certificateAuthority?.caKey.privateKey.fill(0)
    delete keys.certificateAuthority
    if (this.#serving === epoch) this.#serving = undefined
    return true
  }

  /**
   * Combines the collector's shares and installs the result as `recovered` (§7.6), only if
   * its keccak256 equals the collector's chain hash; the shares are wiped once installed.
   * @returns the collector's verdict; on `combine_failed` nothing is installed and the
   *   shares are kept (the caller reports the error in /status).
   */
  async installRecovered(collector: RecoveryShareCollector, epoch = 0): Promise<'recovered' | 'combine_failed'> {
    const result = collector.combine()
    if (result.kind !== 'recovered') return 'combine_failed'
    try {
      await this.#installEpoch(epoch, result.secret, 'recovered', null)
    } finally {
      result.secret.fill(0)
    }
    collector.clear()
    return 'recovered'
  }

  /**
   * Splits the serving secret for `policy` and seals each share to its custodian (§7.6), so
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
   * An app key (§5.2): HKDF v1 at epochs (0, 0), v2 otherwise. `clusterEpoch` defaults to the
   * serving epoch and `appEpoch` to 0; the caller reports both in its answer.
   * @throws KmsError 503 when that epoch's secret is not held; RangeError/TypeError for bad parameters.
   */
  async deriveAppKey(params: { appId: number; path: string; context: string; length: number; clusterEpoch?: number; appEpoch?: number }): Promise<Uint8Array> {
    const keys = this.#require(params.clusterEpoch)
    return deriveAppKey({ ...params, masterSecret: keys.secret, clusterEpoch: keys.epoch, appEpoch: params.appEpoch ?? 0 })
  }

  /**
   * Encrypts a value under `appId`'s data key of `keyEpoch` (default: the serving epoch)
   * (§5.3); the caller stores that epoch with the record.
   * @throws KmsError 503 when that epoch is not held.
   */
  async encryptValue(appId: number, plaintext: Uint8Array, nonce: Uint8Array, keyEpoch?: number): Promise<Uint8Array> {
    return encryptRecord(await this.#dataKey(this.#require(keyEpoch), appId), plaintext, nonce)
  }

  /**
   * Encrypts a value under the serving epoch's data key and says which epoch that was, so the
   * record carries it (§6.1 `key_epoch`). @throws KmsError 503 without a secret.
   */
  async sealValue(appId: number, plaintext: Uint8Array, nonce: Uint8Array): Promise<{ ciphertext: Uint8Array; keyEpoch: number }> {
    const keys = this.#require()
    return { ciphertext: await encryptRecord(await this.#dataKey(keys, appId), plaintext, nonce), keyEpoch: keys.epoch }
  }

  /**
   * Decrypts a stored record of `appId` under the data key of `keyEpoch` (§5.3).
   * @throws KmsError 503 when that epoch is not held; the cipher's error when the record does not open.
   */
  async decryptValue(appId: number, ciphertext: Uint8Array, keyEpoch = 0): Promise<Uint8Array> {
    return decryptRecord(await this.#dataKey(this.#require(keyEpoch), appId), ciphertext)
  }

  /** Whether `ciphertext` opens under `appId`'s data key of `keyEpoch` (§6.7); false when not held. */
  readonly canDecrypt = async (appId: number, ciphertext: Uint8Array, keyEpoch = 0): Promise<boolean> => {
    const keys = this.#epochs.get(keyEpoch)
    if (keys === undefined) return false
    return decryptRecord(await this.#dataKey(keys, appId), ciphertext).then(
      () => true,
      () => false,
    )
  }

  /**
   * Moves a stored value from `fromEpoch`'s data key to `toEpoch`'s (§6.10), with the
   * deterministic nonce that makes every replica's copy byte-identical.
   * @throws KmsError 503 when either epoch is not held, or `toEpoch` is not newer; the
   *   cipher's error when the value does not open.
   */
  async reencryptValue(appId: number, value: Uint8Array, fromEpoch: number, toEpoch: number): Promise<Uint8Array> {
    if (toEpoch <= fromEpoch) throw new KmsError('service_unavailable', `epoch ${toEpoch} is not newer than ${fromEpoch}`)
    const from = this.#require(fromEpoch)
    const to = this.#require(toEpoch)
    return reencryptRecord({
      fromKey: await this.#dataKey(from, appId),
      toKey: await this.#dataKey(to, appId),
      nonceKey: await this.#nonceKey(to, appId),
      fromEpoch: from.epoch,
      value,
    })
  }

  /**
   * `X-Sync-Signature` over a wire envelope (§5.4); with `nonce`, the v2 MAC of §3.6. Signed
   * with the oldest held epoch's key, which every peer on either side of a rotation holds
   * (§7.7). `undefined` without a secret (§4.1 step 4).
   */
  async signSyncBody(envelope: JsonValue, nonce?: string): Promise<string | undefined> {
    const oldest = this.heldEpochs[0]
    const keys = oldest === undefined ? undefined : this.#epochs.get(oldest)
    return keys === undefined ? undefined : computeSyncSignature(keys.syncKey, envelope, nonce)
  }

  /**
   * Checks a received `X-Sync-Signature` (§4.2 step 7), v2 when `nonce` is given, against each
   * held epoch's key (at most two, §7.7); false without a secret.
   */
  async verifySyncBody(body: unknown, signature: string, nonce?: string): Promise<boolean> {
    for (const keys of [...this.#epochs.values()]) {
      if (await verifySyncSignature({ syncKey: keys.syncKey, body, signature, ...(nonce === undefined ? {} : { nonce }) })) return true
    }
    return false
  }

  /**
   * The secret of `epoch` (default 0) sealed to a requester's ephemeral P-384 key (§5.5), for
   * `master_secret_request`.
   * @throws KmsError 503 when that epoch is not held; 400 for a key that is not a P-384 point.
   */
  async sealSecretFor(requesterPublicKeyDer: Uint8Array, random: Random, epoch = 0): Promise<SealedMasterSecret> {
    return sealMasterSecret({ requesterPublicKeyDer, masterSecret: this.#require(epoch).secret, random })
  }

  /**
   * The CA of `epoch` (default: serving) (§8.1–§8.2), built once per secret: every node
   * holding the same secret builds the same bytes.
   * @throws KmsError 503 when that epoch is not held.
   */
  certificateAuthority(epoch?: number): { caKey: CaKey; caCertificate: CaCertificate; epoch: number } {
    const keys = this.#require(epoch)
    if (keys.certificateAuthority === undefined) {
      const caKey = deriveCaKey(keys.secret)
      keys.certificateAuthority = { caKey, caCertificate: buildCaCertificate({ caKey, kmsAppId: this.#kmsAppId, epoch: keys.epoch }), epoch: keys.epoch }
    }
    return keys.certificateAuthority
  }

  #servingKeys(): EpochKeys | undefined {
    const serving = this.servingEpoch
    return serving === undefined ? undefined : this.#epochs.get(serving)
  }

  /** The keys of `epoch`, or of the serving epoch when omitted. */
  #require(epoch?: number): EpochKeys {
    const keys = epoch === undefined ? this.#servingKeys() : this.#epochs.get(epoch)
    if (keys === undefined) throw epoch === undefined || !this.isInstalled ? notReady() : epochNotHeld(epoch)
    return keys
  }

  #dataKey(keys: EpochKeys, appId: number): Promise<RecordKey> {
    let key = keys.dataKeys.get(appId)
    if (key === undefined) {
      key = deriveDataKey(keys.secret, appId, keys.epoch).then(importRecordKey)
      // A failed import must not stay cached: the next call tries again.
      key.catch(() => keys.dataKeys.delete(appId))
      keys.dataKeys.set(appId, key)
    }
    return key
  }

  #nonceKey(keys: EpochKeys, appId: number): Promise<Uint8Array> {
    let key = keys.nonceKeys.get(appId)
    if (key === undefined) {
      key = deriveReencryptNonceKey(keys.secret, appId, keys.epoch)
      key.catch(() => keys.nonceKeys.delete(appId))
      keys.nonceKeys.set(appId, key)
    }
    return key
  }

  async #installEpoch(epoch: number, secret: Uint8Array, state: Exclude<MasterSecretState, 'uninitialized'>, syncedFrom: string | null): Promise<void> {
    if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new RangeError('master secret must be 32 bytes')
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) throw new RangeError('epoch must be an integer in 0..2^32-1')
    // A copy the caller cannot reach (`slice` of a Node Buffer would share its memory).
    const copy = new Uint8Array(secret)
    const syncKey = await deriveSyncKey(copy, epoch)
    const previous = this.#epochs.get(epoch)
    this.#epochs.set(epoch, {
      epoch,
      secret: copy,
      hash: masterSecretHash(copy),
      syncKey,
      state,
      syncedFrom: state === 'synced' ? syncedFrom : null,
      dataKeys: new Map(),
      nonceKeys: new Map(),
    })
    // The replaced secret's bytes go too (an owner reset and a different commit, §7.1 step 7).
    if (previous !== undefined && previous.secret !== copy) previous.secret.fill(0)
  }
}
