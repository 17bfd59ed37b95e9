/**
 * EIP-191 signer recovery that is faster for signers seen before (issue 14): the same answer as
 * {@link recoverMessageSigner}, for every input, in about half the time once a signer is known.
 *
 * Recovery computes Q' = r⁻¹(s·R − z·G) from R = (r, y) with y's parity given by v, and a
 * fresh R each time, so none of that work can be kept (SEC 1 v2 §4.1.6). When the caller names
 * the wallet it expects and that wallet's public key Q is known, the same question can be put
 * the other way round: Q' = Q exactly when s·R = z·G + r·Q, that is when
 *
 *     P = u1·G + u2·Q, with u1 = z·s⁻¹ and u2 = r·s⁻¹ (mod n),
 *
 * is R itself: P.x = r and P.y has the parity v names. Q is fixed, so a table of its
 * multiples (noble's wNAF precompute) can be kept, and both products then use tables.
 * This is ECDSA verification (SEC 1 §4.1.4) with the recovery id checked too, so a flipped v
 * is refused exactly as recovery refuses it (recovery would return another wallet).
 *
 * Whatever the fast check cannot confirm (no table yet, another signer, a bad signature) goes
 * through the full recovery, so errors and results are recovery's own. The check is only ever
 * a shortcut to an answer recovery would give.
 *
 * Memory and abuse: a table costs about 110 KiB and 8 ms to build (4-bit windows), about six
 * recoveries. A wallet gets one only on its second recovery as the expected signer, and at most
 * `capacity` tables are kept (least recently used first out), so a host that sends one valid
 * signature from each of many fresh wallets builds none, and one that reuses wallets pays at
 * least two signed requests (two nonces) per table and can only push signers back onto the
 * slow path they take today.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE } from '@noble/curves/utils.js'
import type { Wallet } from '../encoding'
import { hashEip191Message } from './hashEip191Message'
import { parseRecoverableSignature, recoverParsedPublicKey, type RecoverableSignature } from './recoverMessageSigner'
import { publicKeyToWallet } from './walletKey'

type Point = InstanceType<typeof secp256k1.Point>

const { Point: CurvePoint } = secp256k1
const Fn = CurvePoint.Fn

/** 4-bit windows: about 110 KiB per table and a check of about 0.58 ms, against 0.48 ms for 310 KiB at 6 (bench host). */
const TABLE_WINDOW_BITS = 4
/** Tables kept by default: a node serves a handful of busy apps and peers. */
export const DEFAULT_KNOWN_SIGNER_TABLES = 16
/** Wallets remembered after one recovery, waiting for a second. */
const CANDIDATES_PER_TABLE = 4

export interface KnownSignersOptions {
  /** The most precomputed signers kept; 0 turns the fast path off. */
  readonly capacity?: number
}

/** A bounded cache of signers' public keys with their tables, and recovery through it. */
export class KnownSigners {
  readonly #capacity: number
  /** wallet → its public key, tabled; in least-recently-used order. */
  readonly #tables = new Map<Wallet, Point>()
  /** Wallets recovered once as the expected signer, oldest first. */
  readonly #candidates = new Set<Wallet>()

  constructor(options: KnownSignersOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_KNOWN_SIGNER_TABLES
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError('capacity: expected a non-negative integer')
    this.#capacity = capacity
  }

  #confirmed = 0
  #recovered = 0

  /** Signers with a table (for tests and memory figures). */
  get size(): number {
    return this.#tables.size
  }

  /** Calls answered by a table, and calls that ran the full recovery. */
  get counts(): { readonly confirmed: number; readonly recovered: number } {
    return { confirmed: this.#confirmed, recovered: this.#recovered }
  }

  /**
   * {@link recoverMessageSigner} with `expected` as a hint: the wallet the request claims.
   * @returns the signer's canonical wallet, whatever `expected` is.
   * @throws KmsError `unauthorized`, exactly as recoverMessageSigner does.
   */
  recover(message: string, signature: string, expected?: Wallet): Wallet {
    const parsed = parseRecoverableSignature(signature)
    const digest = hashEip191Message(message)
    const table = expected === undefined ? undefined : this.#tables.get(expected)
    if (table !== undefined && madeBy(table, digest, parsed)) {
      this.#tables.delete(expected!)
      this.#tables.set(expected!, table)
      this.#confirmed++
      return expected!
    }
    this.#recovered++
    const point = recoverParsedPublicKey(digest, parsed)
    const signer = publicKeyToWallet(point.toBytes(false))
    if (signer === expected && table === undefined) this.#remember(signer, point)
    return signer
  }

  #remember(signer: Wallet, point: Point): void {
    if (this.#capacity === 0) return
    if (!this.#candidates.delete(signer)) {
      this.#candidates.add(signer)
      if (this.#candidates.size > this.#capacity * CANDIDATES_PER_TABLE) this.#candidates.delete(this.#candidates.values().next().value!)
      return
    }
    // A point of its own: noble keeps the table with the point object.
    const tabled = CurvePoint.fromAffine(point.toAffine())
    tabled.precompute(TABLE_WINDOW_BITS, false)
    this.#tables.set(signer, tabled)
    if (this.#tables.size > this.#capacity) this.#tables.delete(this.#tables.keys().next().value!)
  }
}

/** Whether `signature` over `digest` recovers to `publicKey`: P = u1·G + u2·Q is R (module comment). */
function madeBy(publicKey: Point, digest: Uint8Array, signature: RecoverableSignature): boolean {
  // noble's bits2int_modN for a 256-bit digest on a 256-bit order: the number, reduced mod n.
  const z = Fn.create(bytesToNumberBE(digest))
  const sInverse = Fn.inv(signature.s)
  const p = CurvePoint.BASE.multiplyUnsafe(Fn.mul(z, sInverse)).add(publicKey.multiplyUnsafe(Fn.mul(signature.r, sInverse)))
  if (p.is0()) return false
  const { x, y } = p.toAffine()
  // R.x is r itself: v ∈ {0, 1} never names the x = r + n points (recoverMessageSigner).
  return x === signature.r && Number(y & 1n) === signature.recovery
}
