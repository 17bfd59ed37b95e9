/**
 * The errors of the app's own keys (issue 17 item 5): a signer whose signature is not its
 * address's, and the local runtime API (RUNTIME.md §2) that holds a key and cannot be used.
 * Neither is a node's fault, so the failover of the runtime-like client never retries them on
 * another node: they reach the caller at once.
 */
import { NovaKmsError } from './novaKmsError'

/**
 * A signer answered with something that is not a usable EIP-191 signature by its own
 * address: `signer_bad_signature` (not 65 bytes of hex, v not 0/1/27/28, r or s out of range)
 * or `signer_mismatch` (it recovers to another wallet). Checked before anything is sent, so a
 * misconfigured signer never costs a node nonce.
 */
export class KmsSignerError extends NovaKmsError {
  override readonly name = 'KmsSignerError'
  declare readonly code: 'signer_bad_signature' | 'signer_mismatch'
  constructor(code: 'signer_bad_signature' | 'signer_mismatch', details: string, options: { cause?: unknown } = {}) {
    super(code === 'signer_mismatch' ? 'Signer signature does not recover to the signer address' : 'Signer returned a malformed signature', {
      code,
      details,
      ...options,
    })
  }
}

/**
 * The local runtime API (`/v1/eth/*`, `/v1/encryption/*`) could not be reached, failed, or
 * answered nonsense. Transient on the runtime's side; `cause` holds the helper failure.
 */
export class KmsLocalRuntimeError extends NovaKmsError {
  override readonly name = 'KmsLocalRuntimeError'
  declare readonly code: 'runtime_unavailable'
  constructor(details: string, options: { cause?: unknown } = {}) {
    super('Local runtime API unavailable', { code: 'runtime_unavailable', details, ...options })
  }
}
