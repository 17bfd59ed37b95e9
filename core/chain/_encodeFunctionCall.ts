/**
 * Calldata for a registry view (Solidity ABI spec, "Function Selector and Argument Encoding"):
 * the 4-byte selector, then each argument as one 32-byte word. The views the readers call
 * take only static elementary arguments (`uintN`, `address`, `bytes32`, `bool`), so there is
 * no tail; a dynamic argument type is refused rather than half-supported.
 */
import { bytesToHex, isCanonicalWallet } from '../encoding'
import { abiFunction } from './_abiFunction'
import { abiSelector } from './_abiSelector'
import type { Abi, AbiFunctionArgs, AbiFunctionName, AbiParameter } from './_abiTypes'

const ZERO_WORD = '0'.repeat(64)

function encodeWord(parameter: AbiParameter, value: unknown): string {
  const { type, name } = parameter
  const uint = /^uint(\d+)$/.exec(type)
  if (uint !== null) {
    const bits = Number(uint[1])
    // "uint<M>: enc(X) is the big-endian encoding of X, padded on the higher-order side".
    if (typeof value !== 'bigint' || value < 0n || value >> BigInt(bits) !== 0n) {
      throw new RangeError(`${name}: expected a ${type}`)
    }
    return value.toString(16).padStart(64, '0')
  }
  if (type === 'address') {
    if (typeof value !== 'string' || !isCanonicalWallet(value)) throw new TypeError(`${name}: expected a canonical wallet`)
    return value.slice(2).padStart(64, '0')
  }
  if (type === 'bool') {
    if (typeof value !== 'boolean') throw new TypeError(`${name}: expected a boolean`)
    return value ? ZERO_WORD.slice(1) + '1' : ZERO_WORD
  }
  if (type === 'bytes32') {
    if (!(value instanceof Uint8Array) || value.length !== 32) throw new TypeError(`${name}: expected 32 bytes`)
    return bytesToHex(value)
  }
  throw new TypeError(`${name}: argument type ${type} is not supported`)
}

/** @returns `0x`-prefixed lowercase hex calldata. */
export function encodeFunctionCall<A extends Abi, N extends AbiFunctionName<A>>(
  abi: A,
  functionName: N,
  args: AbiFunctionArgs<A, N>,
): `0x${string}` {
  const item = abiFunction(abi, functionName)
  const values: readonly unknown[] = args
  if (values.length !== item.inputs.length) throw new TypeError(`${functionName}: expected ${item.inputs.length} arguments`)
  const words = item.inputs.map((parameter, index) => encodeWord(parameter, values[index]))
  return `0x${abiSelector(item)}${words.join('')}`
}
