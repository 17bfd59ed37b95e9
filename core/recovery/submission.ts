/**
 * `POST /recovery/share` (PROTOCOL §7.6): the custodian's submission, sealed with the §10.2
 * cipher (standard info) from the custodian's P-384 key to the node's registry teePubkey and
 * signed by the same key (ECDSA P-384/SHA-384, IEEE P1363 r ‖ s, 96 bytes, as WebCrypto
 * signs), and the node's receipt, sealed back and bound to the request by its nonce.
 * Both sides' builders and openers live here so that they cannot drift apart.
 */
import { p384 } from '@noble/curves/nist.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesEqual, bytesToHex, canonicalJson, parseHex, utf8ToBytes, type Wallet } from '../encoding'
import { decryptEnvelope, encryptEnvelope, importP384PrivateKey, isSameP384PublicKey, parseP384PublicKey } from '../crypto'
import type { WireEnvelope } from '../envelope'
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import { hex0x, isIndex, isWallet, parseHex0x, parseShare } from './_fields'

/** What the signature's message starts with (§7.6). */
export const RECOVERY_SUBMISSION_SIGNATURE_PREFIX = 'nova-kms:recovery-share-submission:v1\n'

export interface RecoveryShareSubmission {
  readonly nodeWallet: Wallet
  readonly secretHash: Uint8Array
  readonly policyId: number
  /** 0-based position of the custodian in the policy. */
  readonly custodianIndex: number
  /** The plain share, 33 bytes. */
  readonly share: Uint8Array
}

export interface RecoveryShareReceipt {
  readonly requestNonce: string
  readonly nodeWallet: Wallet
  readonly secretHash: Uint8Array
  readonly policyId: number
  readonly received: number
  readonly threshold: number
  readonly custodiansAnswered: readonly number[]
  readonly state: 'awaiting' | 'recovered'
}

function unsignedPayload(s: RecoveryShareSubmission): Record<string, string | number> {
  return {
    type: 'recovery_share_submission',
    v: 1,
    node_wallet: s.nodeWallet,
    secret_hash: hex0x(s.secretHash),
    policy_id: s.policyId,
    custodian_index: s.custodianIndex,
    share: hex0x(s.share),
  }
}

/** The exact bytes the custodian signs. */
export function recoverySubmissionSignedMessage(submission: RecoveryShareSubmission): Uint8Array {
  return utf8ToBytes(RECOVERY_SUBMISSION_SIGNATURE_PREFIX + canonicalJson(unsignedPayload(submission)))
}

/**
 * Custodian side: the request body for `POST /recovery/share`.
 * @param custodianScalar the custodian's P-384 private scalar (48 bytes).
 * @param nodeTeePubkeyDer the node's teePubkey as registered (after the attestation checks).
 * @returns the §5.6 envelope to send and its nonce (hex), which the receipt must echo.
 */
export async function buildRecoveryShareSubmission(params: {
  custodianScalar: Uint8Array
  nodeTeePubkeyDer: Uint8Array
  submission: RecoveryShareSubmission
  random: Random
}): Promise<{ envelope: WireEnvelope; requestNonce: string }> {
  const node = parseP384PublicKey(params.nodeTeePubkeyDer)
  if (node === undefined) throw new KmsError('bad_request', 'node teePubkey is not a P-384 public key')
  const key = await importP384PrivateKey(params.custodianScalar)
  // RFC 6979 deterministic k; compact r ‖ s is P1363.
  const signature = p384.sign(recoverySubmissionSignedMessage(params.submission), params.custodianScalar, { prehash: true })
  const nonce = params.random.bytes(12)
  const plaintext = canonicalJson({ ...unsignedPayload(params.submission), signature: hex0x(signature) })
  const ciphertext = await encryptEnvelope({ privateKey: key, peerPublicKey: node, nonce, plaintext })
  const requestNonce = bytesToHex(nonce)
  return {
    envelope: { sender_tee_pubkey: bytesToHex(key.publicKey.der), nonce: requestNonce, encrypted_data: bytesToHex(ciphertext) },
    requestNonce,
  }
}

const SUBMISSION_KEYS = ['custodian_index', 'node_wallet', 'policy_id', 'secret_hash', 'share', 'signature', 'type', 'v']

/**
 * Node side, after decryption: the submission's fields and types (§7.6 check 5).
 * @throws KmsError 400 `bad_request` "invalid recovery share submission".
 */
export function parseRecoveryShareSubmission(inner: Record<string, unknown>): RecoveryShareSubmission & { signature: Uint8Array } {
  const bad = (details: string) => new KmsError('bad_request', 'invalid recovery share submission', { details })
  const keys = Object.keys(inner).sort()
  if (keys.length !== SUBMISSION_KEYS.length || keys.some((k, i) => k !== SUBMISSION_KEYS[i])) throw bad('fields')
  if (inner.type !== 'recovery_share_submission' || inner.v !== 1) throw bad('type/v')
  if (!isWallet(inner.node_wallet)) throw bad('node_wallet')
  const secretHash = parseHex0x(inner.secret_hash, 32)
  if (secretHash === undefined) throw bad('secret_hash')
  if (!isIndex(inner.policy_id, 1, Number.MAX_SAFE_INTEGER)) throw bad('policy_id')
  if (!isIndex(inner.custodian_index, 0, 15)) throw bad('custodian_index')
  const share = parseShare(inner.share)
  if (share === undefined) throw bad('share')
  const signature = parseHex0x(inner.signature, 96)
  if (signature === undefined) throw bad('signature')
  return { nodeWallet: inner.node_wallet, secretHash, policyId: inner.policy_id, custodianIndex: inner.custodian_index, share, signature }
}

/** Node side: the custodian's signature over the submission (§7.6 check 8). */
export function verifyRecoveryShareSignature(params: {
  submission: RecoveryShareSubmission
  signature: Uint8Array
  custodianKeyDer: Uint8Array
}): boolean {
  const key = parseP384PublicKey(params.custodianKeyDer)
  if (key === undefined || params.signature.length !== 96) return false
  try {
    // WebCrypto does not normalise s, so high-s signatures are valid here.
    return p384.verify(params.signature, recoverySubmissionSignedMessage(params.submission), key.sec1, { prehash: true, lowS: false })
  } catch {
    return false
  }
}

/** keccak256 of a plain share: its on-chain commitment (§7.6). */
export function recoveryShareCommitment(share: Uint8Array): Uint8Array {
  return keccak_256(share)
}

/** Node side: the receipt's plaintext (sealed by the node's Tee to the custodian's key). */
export function recoveryShareReceiptPlaintext(receipt: RecoveryShareReceipt): Record<string, unknown> {
  return {
    type: 'recovery_share_receipt',
    v: 1,
    request_nonce: receipt.requestNonce,
    node_wallet: receipt.nodeWallet,
    secret_hash: hex0x(receipt.secretHash),
    policy_id: receipt.policyId,
    received: receipt.received,
    threshold: receipt.threshold,
    custodians_answered: [...receipt.custodiansAnswered],
    state: receipt.state,
  }
}

/**
 * Custodian side: opens the node's 200 answer, requiring that it comes from the node's
 * teePubkey, answers this request (`requestNonce`) and names this node, hash and policy.
 * @throws KmsError `forbidden` (sender), `decryption_failed`, `bad_request` (fields).
 */
export async function openRecoveryShareReceipt(params: {
  custodianScalar: Uint8Array
  nodeTeePubkeyDer: Uint8Array
  body: unknown
  requestNonce: string
  expected: { nodeWallet: Wallet; secretHash: Uint8Array; policyId: number }
}): Promise<RecoveryShareReceipt> {
  const bad = (details: string) => new KmsError('bad_request', 'invalid recovery share receipt', { details })
  const body = params.body
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('not an envelope')
  const e = body as Record<string, unknown>
  const sender = typeof e.sender_tee_pubkey === 'string' ? parseHex(e.sender_tee_pubkey) : undefined
  if (sender === undefined || !isSameP384PublicKey(sender, params.nodeTeePubkeyDer)) {
    throw new KmsError('forbidden', 'receipt is not from the node teePubkey')
  }
  const nonce = typeof e.nonce === 'string' ? parseHex(e.nonce) : undefined
  const ciphertext = typeof e.encrypted_data === 'string' ? parseHex(e.encrypted_data) : undefined
  if (nonce === undefined || ciphertext === undefined) throw new KmsError('decryption_failed', 'Decryption failed')
  const plaintext = await decryptEnvelope({
    privateKey: await importP384PrivateKey(params.custodianScalar),
    peerPublicKey: parseP384PublicKey(sender)!,
    nonce,
    ciphertext,
  })
  let inner: unknown
  try {
    inner = JSON.parse(plaintext)
  } catch {
    throw bad('not JSON')
  }
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw bad('not an object')
  const o = inner as Record<string, unknown>
  if (o.type !== 'recovery_share_receipt' || o.v !== 1) throw bad('type/v')
  if (o.request_nonce !== params.requestNonce) throw bad('request_nonce')
  if (o.node_wallet !== params.expected.nodeWallet) throw bad('node_wallet')
  const hash = parseHex0x(o.secret_hash, 32)
  if (hash === undefined || !bytesEqual(hash, params.expected.secretHash)) throw bad('secret_hash')
  if (o.policy_id !== params.expected.policyId) throw bad('policy_id')
  if (!isIndex(o.threshold, 1, 16) || !isIndex(o.received, 0, 16)) throw bad('received/threshold')
  const answered = o.custodians_answered
  if (!Array.isArray(answered) || answered.length > 16 || !answered.every((i) => isIndex(i, 0, 15))) throw bad('custodians_answered')
  if (o.state !== 'awaiting' && o.state !== 'recovered') throw bad('state')
  return {
    requestNonce: o.request_nonce,
    nodeWallet: o.node_wallet,
    secretHash: hash,
    policyId: o.policy_id,
    received: o.received,
    threshold: o.threshold,
    custodiansAnswered: answered as number[],
    state: o.state,
  }
}
