/**
 * The dev-mode `Tee` (PROTOCOL §10.3): an in-process stand-in for Odyn with the same inputs,
 * outputs and errors. It holds a secp256k1 wallet key (`NODE_PRIVATE_KEY` or random) and a
 * P-384 key (`NODE_ENCRYPTION_KEY` or random per process), runs envelope cipher v1 with its replay memory, and delegates
 * attestation documents to an injected issuer. Authentication and encryption are the same
 * as in enclave mode; nothing is bypassed.
 *
 * It behaves like the **current** runtime (RUNTIME.md §1), so a real Nova app can use a dev
 * cluster: signatures have v ∈ {0, 1}, and envelopes use the label `capsule-ecdh-aes256gcm-v1`.
 */
import { signTransaction } from 'viem/accounts'
import {
  decryptEnvelope,
  encryptEnvelope,
  ENVELOPE_INFO_CURRENT,
  generateP384PrivateKey,
  importP384PrivateKey,
  generateWalletPrivateKey,
  parseP384PublicKey,
  privateKeyToWallet,
  inlineSignatureWork,
  ReplayMemory,
  type P384PrivateKey,
  type SignatureWork,
} from '../crypto'
import { bytesToHex, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import type { AttestationRequest, EncryptedForPeer, Eip1559Transaction, Tee } from './types'

export interface IssueAttestationParams {
  request: AttestationRequest
  /** The stand-in's wallet, injected as `user_data.eth_addr`. */
  wallet: Wallet
  /** The stand-in's teePubkey, embedded when `request.publicKeyDer` is absent. */
  teePublicKeyDer: Uint8Array
}

/** Makes a dev attestation document (COSE_Sign1 bytes) the way §10.3 describes. */
export type IssueAttestation = (params: IssueAttestationParams) => Promise<Uint8Array>

export interface LocalTeeOptions {
  /** Source of the keys, nonces and `randomBytes` (WebCrypto-backed in the bundle). */
  random: Random
  /** `NODE_PRIVATE_KEY` (dev only); a random key when absent. */
  walletPrivateKey?: Uint8Array
  /** `NODE_ENCRYPTION_KEY` (dev only): the P-384 scalar; a random key when absent. */
  encryptionPrivateKey?: Uint8Array
  /** The dev attestation issuer; without it `getAttestation` is unavailable (503). */
  issueAttestation?: IssueAttestation
  /**
   * Where `signMessage` signs (a worker pool under Node, bundle/node.ts); inline by default.
   * It is handed the wallet key with each message: a worker is a thread of this process,
   * so the key never leaves the process (in enclave mode the key is Odyn's, never here).
   */
  signatures?: SignatureWork
}

function decryptionFailed(details: string): KmsError {
  return new KmsError('decryption_failed', 'Decryption failed', { details })
}

/**
 * Creates the stand-in. Keys are made here, not at import (workerd forbids randomness at
 * module scope, DESIGN §3), so call it lazily, e.g. when the node is first created.
 * @throws RangeError for a `walletPrivateKey` that is not a secp256k1 scalar, or an
 *   `encryptionPrivateKey` that is not a P-384 one.
 */
export async function createLocalTee({ random, walletPrivateKey, encryptionPrivateKey, issueAttestation, signatures = inlineSignatureWork }: LocalTeeOptions): Promise<Tee> {
  const walletKey = walletPrivateKey === undefined ? generateWalletPrivateKey(random) : walletPrivateKey.slice()
  const wallet = privateKeyToWallet(walletKey)
  const encryptionKey: P384PrivateKey =
    encryptionPrivateKey === undefined ? await generateP384PrivateKey(random) : await importP384PrivateKey(encryptionPrivateKey)
  const replays = new ReplayMemory()

  return {
    async getWallet(): Promise<Wallet> {
      return wallet
    },

    async signMessage(message: string): Promise<`0x${string}`> {
      // RFC 6979, v ∈ {0, 1} as the runtime's /v1/eth/sign (§10.3 "Wallet").
      return signatures.signMessage(walletKey, message)
    },

    async signTransaction(transaction: Eip1559Transaction): Promise<`0x${string}`> {
      return signTransaction({
        privateKey: `0x${bytesToHex(walletKey)}`,
        transaction: { type: 'eip1559', ...transaction },
      })
    },

    async randomBytes(): Promise<Uint8Array> {
      return random.bytes(32)
    },

    async getEncryptionPublicKey(): Promise<Uint8Array> {
      return encryptionKey.publicKey.der.slice()
    },

    async encrypt(plaintext: string, receiverPublicKeyDer: Uint8Array): Promise<EncryptedForPeer> {
      const receiver = parseP384PublicKey(receiverPublicKeyDer)
      if (receiver === undefined) throw new RangeError('receiverPublicKeyDer: expected a P-384 public key')
      const nonce = random.bytes(12)
      const encryptedData = await encryptEnvelope({
        privateKey: encryptionKey,
        peerPublicKey: receiver,
        nonce,
        plaintext,
        info: ENVELOPE_INFO_CURRENT,
      })
      return { encryptedData, senderPublicKeyDer: encryptionKey.publicKey.der.slice(), nonce }
    },

    async decrypt({ nonce, senderPublicKeyDer, encryptedData }): Promise<string> {
      const sender = parseP384PublicKey(senderPublicKeyDer)
      if (sender === undefined) throw decryptionFailed('envelope sender key is not a P-384 key')
      const plaintext = await decryptEnvelope({
        privateKey: encryptionKey,
        peerPublicKey: sender,
        nonce,
        ciphertext: encryptedData,
        info: ENVELOPE_INFO_CURRENT,
      })
      // §10.2: a (peer DER, N) pair accepted earlier is rejected; recorded only once accepted.
      if (!replays.remember(sender.der, nonce)) throw decryptionFailed('envelope replayed')
      return plaintext
    },

    async getAttestation(request: AttestationRequest): Promise<Uint8Array> {
      if (issueAttestation === undefined) {
        throw new KmsError('service_unavailable', 'Enclave helper unavailable', {
          details: 'the local stand-in has no attestation issuer',
        })
      }
      try {
        return await issueAttestation({ request, wallet, teePublicKeyDer: encryptionKey.publicKey.der.slice() })
      } catch (cause) {
        // As with Odyn, a helper that fails to attest is a 503 (§2.9), not a bug of the caller.
        if (cause instanceof KmsError) throw cause
        throw new KmsError('service_unavailable', 'Enclave helper unavailable', { details: 'attestation issuer failed', cause })
      }
    },
  }
}
