import { ENVELOPE_INFO_CURRENT } from '../crypto'
import type { EnvelopeKey } from './envelopeKey'
import { localRuntime, onLocalRuntime, type LocalRuntimeParameters } from './_localRuntime'

export type RuntimeEnvelopeKeyParameters = LocalRuntimeParameters

/**
 * The app's teePubkey key as its runtime holds it (RUNTIME.md §2): `GET
 * /v1/encryption/public_key` once, here; `POST /v1/encryption/encrypt` seals (the runtime
 * draws the nonce and answers raw hex without `0x`), `POST /v1/encryption/decrypt` opens (it
 * refuses a nonce it has seen from that sender, and a plaintext that is not UTF-8; the KMS
 * inner JSON is UTF-8). The runtime speaks only its own HKDF label, the current one
 * (PROTOCOL §10.2), so it cannot talk to a node of an older generation.
 * @throws KmsLocalRuntimeError when the runtime cannot be reached or answers nonsense.
 */
export async function runtimeEnvelopeKey(parameters: RuntimeEnvelopeKeyParameters): Promise<EnvelopeKey> {
  const runtime = localRuntime(parameters)
  const publicKeyDer = await onLocalRuntime(() => runtime.getEncryptionPublicKey())
  const checkInfo = (info: string): void => {
    if (info !== ENVELOPE_INFO_CURRENT) throw new RangeError(`info: the runtime's envelope key speaks only '${ENVELOPE_INFO_CURRENT}'`)
  }
  return {
    publicKeyDer,
    async seal({ plaintext, recipientPublicKeyDer, info }) {
      checkInfo(info)
      const sealed = await onLocalRuntime(() => runtime.encrypt(plaintext, recipientPublicKeyDer))
      return { senderPublicKeyDer: sealed.senderPublicKeyDer, nonce: sealed.nonce, ciphertext: sealed.encryptedData }
    },
    async open({ senderPublicKeyDer, nonce, ciphertext, info }) {
      checkInfo(info)
      // A refused envelope is `decryption_failed` (a KmsError), as `p384EnvelopeKey` reports it.
      return onLocalRuntime(() => runtime.decrypt({ nonce, senderPublicKeyDer, encryptedData: ciphertext }))
    },
  }
}
