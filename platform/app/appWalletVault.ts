/**
 * The app wallet, kept the way the runtime keeps it (RUNTIME.md §1 "Reserved paths"): in the
 * app's own KV namespace, under `wallet/eth/app/main/private_key` (the 32-byte secp256k1
 * key) and `wallet/eth/app/main/address` (its 20-byte address). Every instance of the app
 * therefore shares one wallet. It is created by read → generate → write → re-read, so that
 * of two instances racing to create it, both end up with whatever the store holds.
 */
import type { RuntimeKmsClient } from '../../core/client'
import { generateWalletPrivateKey, privateKeyToWallet } from '../../core/crypto'
import { bytesToHex, parseHex, type Wallet } from '../../core/encoding'
import type { Random } from '../../core/runtime'
import { RuntimeApiError } from '../http/runtimeApiError'

export const APP_WALLET_KEY_PATH = 'wallet/eth/app/main/private_key'
export const APP_WALLET_ADDRESS_PATH = 'wallet/eth/app/main/address'

export interface AppWallet {
  readonly privateKey: Uint8Array
  readonly address: Wallet
}

function inconsistent(detail: string): RuntimeApiError {
  return new RuntimeApiError(400, `App wallet material in KV is unusable: ${detail}`)
}

/** `undefined` when neither entry exists; refuses half or mismatched material. */
async function readAppWallet(kms: RuntimeKmsClient): Promise<AppWallet | undefined> {
  const [key, address] = await Promise.all([kms.kvGet(APP_WALLET_KEY_PATH), kms.kvGet(APP_WALLET_ADDRESS_PATH)])
  if (!key.found && !address.found) return undefined
  if (!key.found || !address.found) throw inconsistent('only one of private_key and address is stored')
  if (key.value.length !== 32 || address.value.length !== 20) throw inconsistent('private_key or address has the wrong length')
  let derived: Wallet
  try {
    derived = privateKeyToWallet(key.value)
  } catch (error) {
    if (error instanceof RangeError) throw inconsistent('private_key is not a secp256k1 key')
    throw error
  }
  if (derived !== `0x${bytesToHex(address.value)}`) throw inconsistent('address does not match private_key')
  return { privateKey: key.value, address: derived }
}

/** Holds one instance's app wallet once loaded; state per instance, never module-level. */
export class AppWalletVault {
  readonly #kms: RuntimeKmsClient
  readonly #random: Random
  #loading: Promise<AppWallet> | undefined
  #known: AppWallet | undefined

  constructor(kms: RuntimeKmsClient, random: Random) {
    this.#kms = kms
    this.#random = random
  }

  /** The wallet if this process has loaded it already (for attestation's `app_wallet`). */
  get known(): AppWallet | undefined {
    return this.#known
  }

  /**
   * Loads the wallet, creating it on first use. Concurrent callers share one load; a failed
   * load is forgotten, so the next call tries again.
   * @throws RuntimeKmsError from the KMS, RuntimeApiError 400 for unusable material.
   */
  async get(): Promise<AppWallet> {
    if (this.#known !== undefined) return this.#known
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined
    })
    return this.#loading
  }

  async #load(): Promise<AppWallet> {
    const existing = await readAppWallet(this.#kms)
    if (existing !== undefined) return (this.#known = existing)
    const privateKey = generateWalletPrivateKey(this.#random)
    const address = privateKeyToWallet(privateKey)
    await this.#kms.kvPut(APP_WALLET_KEY_PATH, privateKey)
    await this.#kms.kvPut(APP_WALLET_ADDRESS_PATH, parseHex(address)!)
    // Re-read: another instance may have written its own wallet in between; the store wins.
    const stored = await readAppWallet(this.#kms)
    if (stored === undefined) throw new RuntimeApiError(503, 'App wallet was written but cannot be read back', { 'retry-after': '10' })
    return (this.#known = stored)
  }
}
