/** Signs an EIP-1559 transaction the way `/v1/eth/sign-tx` answers (RUNTIME.md §2). */
import { BaseError, keccak256, serializeTransaction, type TransactionSerializableEIP1559 } from 'viem'
import { sign } from 'viem/accounts'
import { bytesToHex } from '../../core/encoding'
import { badRequest } from '../http/runtimeApiError'

export interface SignedTransaction {
  raw_transaction: `0x${string}`
  transaction_hash: `0x${string}`
  /** `0x` r ‖ s ‖ v, v the y-parity 0/1 (as every runtime signature). */
  signature: `0x${string}`
}

/**
 * @throws RuntimeApiError 400 when viem refuses the transaction (e.g. chain id 0, a priority
 *   fee above the max fee).
 */
export async function signTransactionWithKey(privateKey: Uint8Array, transaction: TransactionSerializableEIP1559): Promise<SignedTransaction> {
  let unsigned: `0x${string}`
  try {
    unsigned = serializeTransaction(transaction)
  } catch (error) {
    if (error instanceof BaseError) throw badRequest(`Invalid transaction: ${error.shortMessage}`)
    throw error
  }
  const signature = await sign({ hash: keccak256(unsigned), privateKey: `0x${bytesToHex(privateKey)}` })
  const { r, s } = signature
  // viem's signatures carry yParity; v (27/28) is the legacy spelling of the same bit.
  const yParity = signature.yParity ?? (signature.v === 28n ? 1 : 0)
  const raw = serializeTransaction(transaction, { r, s, yParity })
  return {
    raw_transaction: raw,
    transaction_hash: keccak256(raw),
    signature: `0x${r.slice(2).padStart(64, '0')}${s.slice(2).padStart(64, '0')}0${yParity}`,
  }
}
