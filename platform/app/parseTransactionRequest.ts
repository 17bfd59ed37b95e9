/**
 * The `payload` of `/v1/eth/sign-tx` and `/v1/app-wallet/sign-tx` (RUNTIME.md §2), EIP-1559
 * only: `{"kind":"structured", chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas,
 * gas_limit, to, value, data, access_list}` or `{"kind":"raw_rlp","raw_payload"}`, the
 * unsigned `0x02 ‖ rlp([...])`. viem does the RLP; the checks here name the field.
 */
import { BaseError, isAddress, parseTransaction, type AccessList, type Address, type Hex, type TransactionSerializableEIP1559 } from 'viem'
import { bytesToHex, parseHex } from '../../core/encoding'
import { readHex, readObject, readString } from '../http/fields'
import type { JsonObject } from '../http/readJsonObject'
import { badRequest } from '../http/runtimeApiError'

const DECIMAL = /^(0|[1-9][0-9]*)$/
const HEX_QUANTITY = /^0[xX][0-9a-fA-F]+$/
const UINT256_MAX = (1n << 256n) - 1n

/**
 * A quantity: a JSON integer, a `0x` hex string, or a decimal string, as the runtime's
 * uint256 decoding reads them. A digit string without `0x` is decimal, never hex: reading
 * "1000" as 0x1000 would sign a different transaction than the caller meant.
 */
function readQuantity(body: JsonObject, field: string, fallback?: bigint): bigint {
  const value = body[field]
  if ((value === undefined || value === null) && fallback !== undefined) return fallback
  let quantity: bigint | undefined
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) quantity = BigInt(value)
  if (typeof value === 'string' && (HEX_QUANTITY.test(value) || DECIMAL.test(value))) quantity = BigInt(value)
  if (quantity === undefined || quantity > UINT256_MAX) throw badRequest(`'${field}' must be a non-negative integer, a 0x-hex string or a decimal string`)
  return quantity
}

function readSafeNumber(body: JsonObject, field: string, fallback?: bigint): number {
  const value = readQuantity(body, field, fallback)
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw badRequest(`'${field}' is too large`)
  return Number(value)
}

function readAddress(value: unknown, field: string): Address {
  if (typeof value !== 'string') throw badRequest(`'${field}' must be an address`)
  const address = value.startsWith('0x') || value.startsWith('0X') ? `0x${value.slice(2)}` : `0x${value}`
  if (!isAddress(address, { strict: false })) throw badRequest(`'${field}' must be an address`)
  return address.toLowerCase() as Address
}

function hexOf(value: unknown, field: string, length?: number): Hex {
  const bytes = typeof value === 'string' ? parseHex(value) : undefined
  if (bytes === undefined || (length !== undefined && bytes.length !== length)) throw badRequest(`'${field}' is not valid hex${length === undefined ? '' : ` of ${length} bytes`}`)
  return `0x${bytesToHex(bytes)}`
}

/** `[{address, storage_keys}]`; `storageKeys` too, the spelling of Ethereum's JSON-RPC. */
function readAccessList(value: unknown): AccessList {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw badRequest("'access_list' must be an array")
  return value.map((item: unknown, index) => {
    const entry = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {}
    const keys = entry['storage_keys'] ?? entry['storageKeys'] ?? []
    if (!Array.isArray(keys)) throw badRequest(`'access_list[${index}].storage_keys' must be an array`)
    return {
      address: readAddress(entry['address'], `access_list[${index}].address`),
      storageKeys: keys.map((key: unknown, keyIndex) => hexOf(key, `access_list[${index}].storage_keys[${keyIndex}]`, 32)),
    }
  })
}

function structured(payload: JsonObject): TransactionSerializableEIP1559 {
  const to = payload['to']
  return {
    type: 'eip1559',
    chainId: readSafeNumber(payload, 'chain_id'),
    nonce: readSafeNumber(payload, 'nonce', 0n),
    maxPriorityFeePerGas: readQuantity(payload, 'max_priority_fee_per_gas'),
    maxFeePerGas: readQuantity(payload, 'max_fee_per_gas'),
    gas: readQuantity(payload, 'gas_limit'),
    // Absent or null: a contract creation.
    ...(to === undefined || to === null ? {} : { to: readAddress(to, 'to') }),
    value: readQuantity(payload, 'value', 0n),
    data: payload['data'] === undefined || payload['data'] === null ? '0x' : hexOf(payload['data'], 'data'),
    accessList: readAccessList(payload['access_list']),
  }
}

function rawRlp(payload: JsonObject): TransactionSerializableEIP1559 {
  const raw = readHex(payload, 'raw_payload')
  if (raw[0] !== 0x02) throw badRequest("'raw_payload' must be an EIP-1559 transaction (type 0x02)")
  let parsed
  try {
    parsed = parseTransaction(`0x${bytesToHex(raw)}`)
  } catch (error) {
    if (error instanceof BaseError) throw badRequest("'raw_payload' is not a valid EIP-1559 transaction")
    throw error
  }
  if (parsed.type !== 'eip1559') throw badRequest("'raw_payload' must be an EIP-1559 transaction (type 0x02)")
  if (parsed.r !== undefined || parsed.s !== undefined) throw badRequest("'raw_payload' must be unsigned")
  const { chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, accessList } = parsed
  return {
    type: 'eip1559',
    chainId,
    nonce: nonce ?? 0,
    maxPriorityFeePerGas: maxPriorityFeePerGas ?? 0n,
    maxFeePerGas: maxFeePerGas ?? 0n,
    gas: gas ?? 0n,
    ...(to === undefined || to === null ? {} : { to }),
    value: value ?? 0n,
    data: data ?? '0x',
    accessList: accessList ?? [],
  }
}

/**
 * Reads `body.payload` into an unsigned EIP-1559 transaction.
 * @throws RuntimeApiError 400 naming the field.
 */
export function parseTransactionRequest(body: JsonObject): TransactionSerializableEIP1559 {
  const payload = readObject(body, 'payload')
  if (payload === undefined) throw badRequest("'payload' is required")
  const kind = readString(payload, 'kind')
  if (kind === 'structured') return structured(payload)
  if (kind === 'raw_rlp') return rawRlp(payload)
  throw badRequest("'payload.kind' must be 'structured' or 'raw_rlp'")
}
