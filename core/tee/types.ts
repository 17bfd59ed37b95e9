/**
 * The enclave-helper interface (PROTOCOL §10). Two implementations exist: the Odyn HTTP
 * client (enclave mode) and the in-process local stand-in (dev mode and tests). Every
 * method rejects with a `KmsError` (`service_unavailable` when the helper cannot be reached
 * or fails; `decryption_failed` for a rejected envelope in `decrypt`).
 */
import type { JsonValue, Wallet } from '../encoding'

/** An EIP-1559 transaction for `sign-tx` (PROTOCOL §9.3). */
export interface Eip1559Transaction {
  chainId: number
  nonce: number
  maxPriorityFeePerGas: bigint
  maxFeePerGas: bigint
  gas: bigint
  to: Wallet
  value: bigint
  data: `0x${string}`
}

export interface EncryptedForPeer {
  /** AES-GCM ciphertext ‖ tag. */
  encryptedData: Uint8Array
  /** The sender's (our) P-384 public key, DER SPKI (120 B). */
  senderPublicKeyDer: Uint8Array
  /** The 12-byte nonce. */
  nonce: Uint8Array
}

export interface AttestationRequest {
  /** Raw nonce bytes (the helper receives them as standard padded base64). */
  nonce: Uint8Array
  /** DER SPKI to embed as `public_key`; the helper's own teePubkey when absent. */
  publicKeyDer?: Uint8Array
  /** Embedded as UTF-8 JSON; the helper always injects `eth_addr` = its wallet. */
  userData?: Readonly<Record<string, JsonValue>>
}

export interface Tee {
  /** The node's TEE wallet (canonical). */
  getWallet(): Promise<Wallet>
  /** EIP-191 signature of `message` by the wallet: `0x` + 130 hex, v ∈ {0,1,27,28}. */
  signMessage(message: string): Promise<`0x${string}`>
  /** Signs an EIP-1559 transaction; returns the raw serialized signed transaction. */
  signTransaction(transaction: Eip1559Transaction): Promise<`0x${string}`>
  /** 32 random bytes from the helper. */
  randomBytes(): Promise<Uint8Array>
  /** The per-boot P-384 teePubkey, DER SPKI (120 B). */
  getEncryptionPublicKey(): Promise<Uint8Array>
  /**
   * Envelope cipher v1 (PROTOCOL §10.2) from our key to `receiverPublicKeyDer` (DER SPKI or
   * SEC1 uncompressed). The caller has already parsed that key (§3.3 step 7, §5.6); a value
   * that is not a P-384 key is a caller bug and rejects with a RangeError.
   */
  encrypt(plaintext: string, receiverPublicKeyDer: Uint8Array): Promise<EncryptedForPeer>
  /**
   * Envelope cipher v1 decryption, with replay memory and strict UTF-8. The sender key may be
   * DER SPKI or SEC1. A sender key that does not parse, a nonce that is not 12 bytes, a
   * replayed (sender, nonce) pair, a bad tag or non-UTF-8 rejects with `decryption_failed`.
   */
  decrypt(params: { nonce: Uint8Array; senderPublicKeyDer: Uint8Array; encryptedData: Uint8Array }): Promise<string>
  /** A COSE_Sign1 Nitro attestation document (raw bytes). */
  getAttestation(request: AttestationRequest): Promise<Uint8Array>
}
