/**
 * The app's two keys as every client takes them: a signer (`signer`, or the raw `walletKey`
 * shorthand) and an envelope key (`envelopeKey`, or the in-memory `teeKey` shorthand),
 * exactly one of each.
 */
import type { P384PrivateKey } from '../crypto'
import { parseWallet, type Wallet } from '../encoding'
import type { Random } from '../runtime'
import { p384EnvelopeKey, type EnvelopeKey } from './envelopeKey'
import { walletKeySigner, type KmsSigner } from './kmsSigner'

export type AppSignerOption =
  | {
      /** Signs PoP: a viem `LocalAccount`, `runtimeSigner`, or anything of that shape. */
      signer: KmsSigner
      walletKey?: never
    }
  | {
      /** Shorthand for `signer: walletKeySigner(walletKey)`: the TEE wallet's secp256k1 key. */
      walletKey: Uint8Array
      signer?: never
    }

export type AppEnvelopeKeyOption =
  | {
      /** Seals requests and opens answers: `webCryptoEnvelopeKey`, `runtimeEnvelopeKey`. */
      envelopeKey: EnvelopeKey
      teeKey?: never
    }
  | {
      /** Shorthand for `p384EnvelopeKey`: the P-384 key whose public half is the registry teePubkey. */
      teeKey: P384PrivateKey
      envelopeKey?: never
    }

export type AppKeyOptions = AppSignerOption & AppEnvelopeKeyOption

export interface AppKeys {
  signer: KmsSigner
  /** The signer's canonical wallet (`X-App-Wallet`). */
  wallet: Wallet
  envelopeKey: EnvelopeKey
}

/**
 * @throws TypeError unless exactly one of `signer` and `walletKey`, and one of `envelopeKey`
 *   and `teeKey`, is given, or for a signer address that is not a wallet.
 */
export function resolveAppKeys(options: { signer?: KmsSigner | undefined; walletKey?: Uint8Array | undefined; envelopeKey?: EnvelopeKey | undefined; teeKey?: P384PrivateKey | undefined }, random: Random): AppKeys {
  const { signer, walletKey, envelopeKey, teeKey } = options
  if ((signer === undefined) === (walletKey === undefined)) throw new TypeError('signer, walletKey: expected exactly one of them')
  if ((envelopeKey === undefined) === (teeKey === undefined)) throw new TypeError('envelopeKey, teeKey: expected exactly one of them')
  const resolvedSigner = signer ?? walletKeySigner(walletKey!)
  const wallet = typeof resolvedSigner.address === 'string' ? parseWallet(resolvedSigner.address) : undefined
  if (wallet === undefined) throw new TypeError('signer.address: expected a 20-byte 0x wallet')
  return { signer: resolvedSigner, wallet, envelopeKey: envelopeKey ?? p384EnvelopeKey({ privateKey: teeKey!, random }) }
}
