/** `/v1/app-wallet/*` (RUNTIME.md §2): the app wallet, shared by the app's instances through KV. */
import { Hono } from 'hono'
import { getAddress } from 'viem'
import { signMessageWithKey } from '../../core/crypto'
import type { AppInstance } from '../app/appInstance'
import { parseTransactionRequest } from '../app/parseTransactionRequest'
import { signTransactionWithKey } from '../app/signTransactionWithKey'
import { readString } from '../http/fields'
import { readJsonObject } from '../http/readJsonObject'
import { requireKms } from './kms'

export function appWalletRoutes(instance: AppInstance): Hono {
  return new Hono()
    .get('/v1/app-wallet/address', async (c) => {
      const wallet = await requireKms(instance).appWallet.get()
      return c.json({ address: getAddress(wallet.address), app_id: instance.appId, instance_wallet: getAddress(instance.wallet) })
    })
    .post('/v1/app-wallet/sign', async (c) => {
      const body = await readJsonObject(c)
      const message = readString(body, 'message', { nonEmpty: true })
      const wallet = await requireKms(instance).appWallet.get()
      return c.json({ signature: signMessageWithKey(wallet.privateKey, message), address: getAddress(wallet.address), app_id: instance.appId })
    })
    .post('/v1/app-wallet/sign-tx', async (c) => {
      const transaction = parseTransactionRequest(await readJsonObject(c))
      const wallet = await requireKms(instance).appWallet.get()
      const signed = await signTransactionWithKey(wallet.privateKey, transaction)
      return c.json({ ...signed, address: getAddress(wallet.address), app_id: instance.appId })
    })
}
