import { recoverMessageSigner } from '../crypto'
import type { Wallet } from '../encoding'
import { isKmsError } from '../errors'
import { KmsSignerError } from './appKeyErrors'
import type { KmsSigner } from './kmsSigner'

export interface SignWithKmsSignerParameters {
  signer: KmsSigner
  /** The signer's canonical wallet, which the signature must recover to. */
  wallet: Wallet
  message: string
}

const SIGNATURE_TEXT = /^(?:0x)?[0-9a-fA-F]{130}$/

/**
 * Signs a PoP message (PROTOCOL §3.1.1, §3.5) with the app's signer and checks the answer
 * before it is sent. Nodes accept v ∈ {0, 1, 27, 28} from apps (§3.1.2 step 5); the signature
 * goes out as the runtime's own client sends it (RUNTIME.md §1): lowercase `0x` hex with
 * v ∈ {0, 1}, so viem's 27/28 become 0/1 and r, s pass through unchanged. It must recover to
 * `wallet` (the `X-App-Wallet` sent beside it), so a signer holding another key fails here,
 * not as a node's 403 after a nonce was spent.
 * @returns `0x` + 130 lowercase hex digits, v ∈ {0, 1}.
 * @throws KmsSignerError `signer_bad_signature` or `signer_mismatch`.
 */
export async function signWithKmsSigner({ signer, wallet, message }: SignWithKmsSignerParameters): Promise<`0x${string}`> {
  const signature: unknown = await signer.signMessage({ message })
  if (typeof signature !== 'string' || !SIGNATURE_TEXT.test(signature)) throw new KmsSignerError('signer_bad_signature', 'signature is not 65 bytes of hex')
  const hex = signature.replace(/^0x/, '').toLowerCase()
  const v = Number.parseInt(hex.slice(128), 16)
  const recovery = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : undefined
  if (recovery === undefined) throw new KmsSignerError('signer_bad_signature', `signature v is ${v}`)
  const normalized: `0x${string}` = `0x${hex.slice(0, 128)}0${recovery}`
  let recovered: Wallet
  try {
    recovered = recoverMessageSigner(message, normalized)
  } catch (cause) {
    if (!isKmsError(cause)) throw cause
    // r or s out of range, or no point recovers: the signer's bytes are not a signature.
    throw new KmsSignerError('signer_bad_signature', 'signature does not recover', { cause })
  }
  if (recovered !== wallet) throw new KmsSignerError('signer_mismatch', `signature recovers to ${recovered}, not ${wallet}`)
  return normalized
}
