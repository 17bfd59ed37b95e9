/**
 * A peer that speaks /sync by hand (PROTOCOL §4.1), so tests can send what a correct node
 * never would: a wrong HMAC, a replayed PoP, a spoofed `sender_wallet`, bad records.
 */
import {
  buildPeerAuthMessage,
  computeSyncSignature,
  encryptEnvelope,
  generateP384PrivateKey,
  generateWalletPrivateKey,
  parseP384PublicKey,
  privateKeyToWallet,
  signMessageWithKey,
  type P384PrivateKey,
} from '../../core/crypto'
import { bytesToHex, canonicalJson, type Wallet } from '../../core/encoding'
import { cryptoRandom } from './kmsNodes'

export interface SyncTarget {
  url: string
  wallet: Wallet
  teePubkeyDer: Uint8Array
}

export interface RoguePeer {
  wallet: Wallet
  walletKey: Uint8Array
  teeKey: P384PrivateKey
  /** Builds the headers and body of one /sync request; `tamper` edits them before sending. */
  prepare(target: SyncTarget, payload: Record<string, unknown>, syncKey: Uint8Array | undefined): Promise<{ headers: Record<string, string>; body: string }>
}

export async function createRoguePeer(): Promise<RoguePeer> {
  const walletKey = generateWalletPrivateKey(cryptoRandom)
  const teeKey = await generateP384PrivateKey(cryptoRandom)
  const wallet = privateKeyToWallet(walletKey)
  return {
    wallet,
    walletKey,
    teeKey,
    async prepare(target, payload, syncKey) {
      const nonceAnswer = (await (await fetch(`${target.url}/nonce`)).json()) as { nonce: string }
      const timestamp = Math.floor(Date.now() / 1000)
      const signature = signMessageWithKey(walletKey, buildPeerAuthMessage({ nonce: nonceAnswer.nonce, wallet: target.wallet, timestamp }))
      const nonce = cryptoRandom.bytes(12)
      const ciphertext = await encryptEnvelope({
        privateKey: teeKey,
        peerPublicKey: parseP384PublicKey(target.teePubkeyDer)!,
        nonce,
        plaintext: canonicalJson(payload),
      })
      const envelope = { sender_tee_pubkey: bytesToHex(teeKey.publicKey.der), nonce: bytesToHex(nonce), encrypted_data: bytesToHex(ciphertext) }
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-kms-signature': signature,
        'x-kms-nonce': nonceAnswer.nonce,
        'x-kms-timestamp': String(timestamp),
        'x-kms-wallet': wallet,
      }
      if (syncKey !== undefined) headers['x-sync-signature'] = await computeSyncSignature(syncKey, envelope)
      return { headers, body: JSON.stringify(envelope) }
    },
  }
}
