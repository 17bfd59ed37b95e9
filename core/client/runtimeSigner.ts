import type { Wallet } from '../encoding'
import type { KmsSigner } from './kmsSigner'
import { messageText } from './kmsSigner'
import { localRuntime, onLocalRuntime, type LocalRuntimeParameters } from './_localRuntime'

export type RuntimeSignerParameters = LocalRuntimeParameters

/**
 * The app's TEE wallet as its runtime holds it (RUNTIME.md §2): `GET /v1/eth/address` once,
 * here, then `POST /v1/eth/sign` per message (the runtime adds the EIP-191 prefix and signs
 * with v 0/1). The key never leaves the runtime. The SDK still checks every signature
 * against the address before sending it (`signWithKmsSigner`).
 * @example
 * const signer = await runtimeSigner({ runtimeUrl: 'http://127.0.0.1:18000' })
 * @throws KmsLocalRuntimeError when the runtime cannot be reached or answers nonsense.
 */
export async function runtimeSigner(parameters: RuntimeSignerParameters): Promise<KmsSigner & { readonly address: Wallet }> {
  const runtime = localRuntime(parameters)
  const address = await onLocalRuntime(() => runtime.getWallet())
  return {
    address,
    async signMessage({ message }) {
      const text = messageText(message)
      return onLocalRuntime(() => runtime.signMessage(text))
    },
  }
}
