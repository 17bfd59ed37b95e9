/** `/v1/eth/*` (RUNTIME.md §2): the instance's TEE wallet. */
import { Hono } from 'hono'
import { getAddress } from 'viem'
import { signMessageWithKey } from '../../core/crypto'
import { bytesToBase64, bytesToHex } from '../../core/encoding'
import type { AppInstance } from '../app/appInstance'
import { issueInstanceAttestation } from '../app/issueInstanceAttestation'
import { parseTransactionRequest } from '../app/parseTransactionRequest'
import { signTransactionWithKey } from '../app/signTransactionWithKey'
import { readFlag, readString } from '../http/fields'
import { readJsonObject } from '../http/readJsonObject'

/**
 * With `include_attestation`, a document like `/v1/attestation {}` returns: no nonce, the
 * instance's P-384 key, and `user_data` with the injected wallets.
 */
export async function attestationIfAsked(instance: AppInstance, asked: boolean): Promise<string | null> {
  return asked ? bytesToBase64(await issueInstanceAttestation(instance, {}, { allowPublicKey: false })) : null
}

/** `GET /v1/eth/address`: the address (EIP-55) and its uncompressed public key. */
export function ethAddress(instance: AppInstance): { address: string; public_key: string } {
  return { address: getAddress(instance.wallet), public_key: `0x${bytesToHex(instance.walletPublicKey)}` }
}

export function ethRoutes(instance: AppInstance): Hono {
  return new Hono()
    .get('/v1/eth/address', (c) => c.json(ethAddress(instance)))
    .post('/v1/eth/sign', async (c) => {
      const body = await readJsonObject(c)
      const message = readString(body, 'message', { nonEmpty: true })
      // EIP-191, r ‖ s ‖ v with v ∈ {0, 1}, as the runtime signs.
      const signature = signMessageWithKey(instance.walletKey, message)
      return c.json({ signature, address: getAddress(instance.wallet), attestation: await attestationIfAsked(instance, readFlag(body, 'include_attestation')) })
    })
    .post('/v1/eth/sign-tx', async (c) => {
      const body = await readJsonObject(c)
      const signed = await signTransactionWithKey(instance.walletKey, parseTransactionRequest(body))
      return c.json({ ...signed, address: getAddress(instance.wallet), attestation: await attestationIfAsked(instance, readFlag(body, 'include_attestation')) })
    })
}
