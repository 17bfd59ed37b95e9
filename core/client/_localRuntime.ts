/**
 * The app's own runtime API (RUNTIME.md §2) as the SDK's key holders use it: the enclave
 * helper client of `core/tee` (`createOdynTee`), which already speaks these routes (the Odyn
 * API of PROTOCOL §10.1 is the same `/v1/eth/*` and `/v1/encryption/*`), so nothing of its
 * wire format is written twice. Its failures are the node's 503 wording; here they become a
 * {@link KmsLocalRuntimeError}, the app's side, and never a node's fault.
 */
import { isKmsError } from '../errors'
import { createOdynTee, ODYN_TIMEOUT_MS } from '../tee/odynTee'
import type { Tee } from '../tee/types'
import { KmsLocalRuntimeError } from './appKeyErrors'
import type { FetchFunction } from './_timedFetch'

export interface LocalRuntimeParameters {
  /** The runtime API, `http://127.0.0.1:18000` inside the enclave. */
  runtimeUrl: string
  fetch?: FetchFunction
  /** Per call; 10 s by default, as the runtime's own calls. */
  timeoutMs?: number
}

/** Runs `call`, with a helper failure (`service_unavailable`) reported as the runtime's. */
export async function onLocalRuntime<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (isKmsError(error) && error.code === 'service_unavailable') throw new KmsLocalRuntimeError(error.details ?? error.message, { cause: error })
    throw error
  }
}

export function localRuntime({ runtimeUrl, fetch, timeoutMs = ODYN_TIMEOUT_MS }: LocalRuntimeParameters): Pick<Tee, 'getWallet' | 'signMessage' | 'getEncryptionPublicKey' | 'encrypt' | 'decrypt'> {
  return createOdynTee({ baseUrl: runtimeUrl, fetch: fetch ?? ((input, init) => globalThis.fetch(input, init)), timeoutMs })
}
