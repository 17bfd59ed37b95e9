/**
 * `POST /recovery/share` (PROTOCOL §7.6): a custodian's share for a node that awaits
 * recovery. Sealed (§5.6, §10.2) from the custodian's P-384 key to this node's teePubkey and
 * signed by the same key. The checks run in the order §7.6 gives; each refusal has its own
 * 4xx and none of them touches the shares already collected. Ungated: the node that needs
 * this route is by definition unavailable.
 */
import { CLUSTER_CHAIN } from '../core/audit'
import { bytesEqual, constantTimeEqual, parseHex } from '../core/encoding'
import { isSameP384PublicKey } from '../core/crypto'
import { sealEnvelope } from '../core/envelope'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import {
  parseRecoveryShareSubmission,
  recoveryShareCommitment,
  recoveryShareReceiptPlaintext,
  verifyRecoveryShareSignature,
} from '../core/recovery'
import { defineFunction } from './_define'
import { jsonResponse, parseJsonText, readBodyBytes, requireEnvelope } from './_http'
import { bodyLimitOf } from './_stages/bodyLimit'

type RecoveryShareView = Pick<KmsNode, 'recovery' | 'recoveryReader' | 'epochReader' | 'keys' | 'tee' | 'identity' | 'readiness' | 'config' | 'admission' | 'log' | 'audit'>

function notAwaiting(): KmsError {
  return new KmsError('conflict', 'not awaiting recovery shares')
}

export const recoveryShare = defineFunction(
  { name: 'recovery_share', routes: [{ path: '/recovery/share', methods: ['POST'] }], gate: 'none', limiter: 'client', bodyLimit: 'recovery' },
  async (request, node: RecoveryShareView) => {
    // 1–2. Bounded body, envelope shape.
    const bytes = await readBodyBytes(request, bodyLimitOf({ bodyLimit: 'recovery' }, node.config), node.admission)
    const envelope = requireEnvelope(parseJsonText(new TextDecoder().decode(bytes), 'Invalid JSON body'))

    // 3. Awaiting: a backup applies and the secret is not (yet) installed.
    const awaiting = node.recovery.awaiting
    if (awaiting === undefined || node.keys.matches(awaiting.secretHash)) throw notAwaiting()
    const { policy, collector, backup } = awaiting

    // 4. The sender must be a custodian of the policy being collected for.
    const sender = typeof envelope.sender_tee_pubkey === 'string' ? parseHex(envelope.sender_tee_pubkey) : undefined
    const senderIndex = sender === undefined ? -1 : policy.custodians.findIndex((c) => isSameP384PublicKey(c.sealingKeyDer, sender))
    if (sender === undefined || senderIndex < 0) throw new KmsError('forbidden', 'sender is not a custodian of the active recovery policy')
    const custodian = policy.custodians[senderIndex]!

    // 5. Decrypt (the helper's replay memory refuses a replayed envelope).
    const nonce = typeof envelope.nonce === 'string' ? parseHex(envelope.nonce) : undefined
    const encryptedData = typeof envelope.encrypted_data === 'string' ? parseHex(envelope.encrypted_data) : undefined
    if (nonce === undefined || encryptedData === undefined) throw new KmsError('decryption_failed', 'Decryption failed')
    const plaintext = await node.tee.decrypt({ nonce, senderPublicKeyDer: custodian.sealingKeyDer, encryptedData })
    const inner = parseJsonText(plaintext, 'invalid recovery share submission')
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw new KmsError('bad_request', 'invalid recovery share submission')

    // 6. Fields and types.
    const submission = parseRecoveryShareSubmission(inner as Record<string, unknown>)
    if (submission.custodianIndex !== senderIndex) throw new KmsError('forbidden', 'custodian_index is not the sender\'s position in the policy')

    // 7. Addressed to this node.
    if (submission.nodeWallet !== node.identity.wallet) throw new KmsError('forbidden', 'node_wallet is not this node')

    // 8. The chain's hash and active policy, read now (fail closed: 503 when unreadable).
    // The hash of the epoch the node awaits (§7.7: the newest committed one), not merely the
    // current epoch's, which is zero while a rotation waits for its first commit.
    const [epochs, active] = await Promise.all([node.epochReader.readEpochs(), node.recoveryReader.activeRecoveryPolicy()])
    const chainHash = epochs.epochs.find((entry) => entry.epoch === awaiting.epoch && !entry.retired)?.hash ?? new Uint8Array(32)
    if (!bytesEqual(submission.secretHash, chainHash) || !bytesEqual(chainHash, awaiting.secretHash)) {
      throw new KmsError('conflict', 'secret_hash is not the chain\'s master secret hash')
    }
    if (active === undefined || submission.policyId !== active.policyId || active.policyId !== policy.policyId) {
      throw new KmsError('conflict', 'policy_id is not the active recovery policy')
    }

    // The chain reads yielded: a node_tick may have reset or replaced the collection meanwhile
    // (the hash or policy changed), and a share must never land in a discarded collector.
    if (node.recovery.awaiting !== awaiting) throw notAwaiting()

    // 9. Signed by the custodian's key.
    if (!verifyRecoveryShareSignature({ submission, signature: submission.signature, custodianKeyDer: custodian.sealingKeyDer })) {
      throw new KmsError('unauthorized', 'invalid recovery share signature')
    }

    // 10. The on-chain commitment for this index.
    const commitment = backup.shareCommitments[senderIndex]
    if (commitment === undefined || !constantTimeEqual(recoveryShareCommitment(submission.share), commitment)) {
      throw new KmsError('bad_request', 'share does not match its commitment')
    }

    // 11. One share per custodian.
    if (collector.has(senderIndex)) throw new KmsError('conflict', 'share already received')

    const added = collector.add(senderIndex, submission.share)
    let state: 'awaiting' | 'recovered' = 'awaiting'
    if (added.kind === 'recovered') {
      added.secret.fill(0)
      // The key ring combines again itself, so the secret goes straight from shares into it.
      state = (await node.keys.installRecovered(collector, awaiting.epoch)) === 'recovered' ? 'recovered' : 'awaiting'
      if (state === 'recovered') node.log('info', 'master secret recovered from custodian shares; serving after the next node_tick', { policy_id: policy.policyId })
    } else if (added.kind === 'combine_failed') {
      node.log('error', 'custodian shares did not combine to the chain hash; shares kept', { policy_id: policy.policyId, error: added.error })
    }
    // §14.2: accepted shares are cluster events (the share itself is never logged).
    node.audit.append(CLUSTER_CHAIN, node.audit.newRequestId(), { op: 'recovery_share_received', custodian: senderIndex, policy_id: policy.policyId })
    const answered = collector.answered
    if (state === 'awaiting') node.readiness.markUnavailable(`awaiting recovery shares (${collector.received}/${collector.threshold})`)

    const receipt = recoveryShareReceiptPlaintext({
      requestNonce: envelope.nonce as string,
      nodeWallet: submission.nodeWallet,
      secretHash: chainHash,
      policyId: policy.policyId,
      received: answered.length,
      threshold: policy.threshold,
      custodiansAnswered: answered,
      state,
    })
    return jsonResponse(await sealEnvelope(node.tee, receipt, custodian.sealingKeyDer))
  },
)
