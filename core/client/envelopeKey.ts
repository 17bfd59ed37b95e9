/**
 * The app's envelope key (issue 17 item 5; PROTOCOL §5.6, §10.2): the P-384 key whose public
 * half is its registry teePubkey, which seals each request to a node and opens the node's
 * answer. An interface, because the private half may live where the app cannot read it: a
 * non-extractable WebCrypto key (`webCryptoEnvelopeKey`) or the runtime's
 * `/v1/encryption/*` (`runtimeEnvelopeKey`). `p384EnvelopeKey` is the in-memory one.
 */
import { decryptEnvelope, encryptEnvelope, parseP384PublicKey, type P384PrivateKey } from '../crypto'
import { KmsError } from '../errors'
import type { Random } from '../runtime'

/** One envelope (§5.6): what goes on the wire as `sender_tee_pubkey`, `nonce`, `encrypted_data`. */
export interface SealedEnvelope {
  /** The sender's P-384 key, DER SPKI (120 B). */
  senderPublicKeyDer: Uint8Array
  /** 12 bytes, fresh per envelope. */
  nonce: Uint8Array
  /** AES-256-GCM ciphertext ‖ tag. */
  ciphertext: Uint8Array
}

export interface EnvelopeKey {
  /** The key's public half, DER SPKI (120 B): the app's registry teePubkey. */
  readonly publicKeyDer: Uint8Array
  /**
   * Envelope cipher v1 (§10.2) of `plaintext` (UTF-8) from this key to `recipientPublicKeyDer`
   * (DER SPKI or SEC1, already checked to be P-384), under the HKDF label `info`, with a fresh
   * nonce the key draws.
   */
  seal(params: { plaintext: string; recipientPublicKeyDer: Uint8Array; info: string }): Promise<SealedEnvelope>
  /**
   * Opens an envelope sent to this key.
   * @throws KmsError `decryption_failed` for a bad sender key, nonce, tag or non-UTF-8 plaintext.
   */
  open(params: SealedEnvelope & { info: string }): Promise<string>
}

export interface P384EnvelopeKeyParameters {
  privateKey: P384PrivateKey
  /** Draws each envelope's nonce. */
  random: Random
}

/** The envelope key over a P-384 key in this process (the `teeKey` shorthand). */
export function p384EnvelopeKey({ privateKey, random }: P384EnvelopeKeyParameters): EnvelopeKey {
  return {
    publicKeyDer: privateKey.publicKey.der,
    async seal({ plaintext, recipientPublicKeyDer, info }) {
      const peerPublicKey = parseP384PublicKey(recipientPublicKeyDer)
      if (peerPublicKey === undefined) throw new RangeError('recipientPublicKeyDer: expected a P-384 public key')
      const nonce = random.bytes(12)
      const ciphertext = await encryptEnvelope({ privateKey, peerPublicKey, nonce, plaintext, info })
      return { senderPublicKeyDer: privateKey.publicKey.der, nonce, ciphertext }
    },
    async open({ senderPublicKeyDer, nonce, ciphertext, info }) {
      const peerPublicKey = parseP384PublicKey(senderPublicKeyDer)
      if (peerPublicKey === undefined) throw new KmsError('decryption_failed', 'Decryption failed', { details: 'envelope sender key is not a P-384 key' })
      return decryptEnvelope({ privateKey, peerPublicKey, nonce, ciphertext, info })
    },
  }
}
