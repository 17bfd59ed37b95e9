import type { Wallet } from '../encoding'
import { KnownSigners } from './knownSigners'
import { signMessageWithKey } from './signMessageWithKey'

/**
 * The node's secp256k1 work (EIP-191 recovery of PoP signatures, signing of answers), as a
 * seam: it is most of a derive's CPU (README "Performance"), and under Node it can run on
 * worker threads (bundle/node.ts) so that it does not hold the one JavaScript thread every
 * request queues on. core/ cannot start threads (no Node built-ins), so the runtime injects
 * an implementation; {@link inlineSignatureWork} is the default everywhere else (workerd).
 *
 * An implementation must give exactly the inline results: the same wallet, the same RFC 6979
 * signature, and for a bad signature the same `KmsError` code and message (§3.1.2 step 5).
 * It may also fail with 503 `service_unavailable` when it cannot do the work (a worker died).
 */
export interface SignatureWork {
  /**
   * {@link recoverMessageSigner}, same results and errors. `expected`, the wallet the request
   * claims, only ever makes it faster (`KnownSigners`).
   */
  recoverMessageSigner(message: string, signature: string, expected?: Wallet): Promise<Wallet>
  /** {@link signMessageWithKey} with the node's wallet key. */
  signMessage(privateKey: Uint8Array, message: string): Promise<`0x${string}`>
}

/**
 * This thread's known signers: one per thread (each pool worker holds its own), bounded
 * (`KnownSigners`).
 */
export const threadKnownSigners = new KnownSigners()

/** The work on the calling thread: noble, synchronously, behind a promise. */
export const inlineSignatureWork: SignatureWork = {
  async recoverMessageSigner(message, signature, expected) {
    return threadKnownSigners.recover(message, signature, expected)
  },
  async signMessage(privateKey, message) {
    return signMessageWithKey(privateKey, message)
  },
}
