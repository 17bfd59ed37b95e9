import { abiSelector } from './_abiSelector'
import type { Abi, AbiError } from './_abiTypes'

function isParameterlessError(entry: Abi[number]): entry is AbiError {
  return entry.type === 'error' && 'inputs' in entry && entry.inputs.length === 0
}

/**
 * The name of the custom error that revert data `data` is (Solidity ABI spec, "Errors"), for
 * errors without parameters only: such an error is its 4-byte selector and nothing else, so
 * anything longer or shorter, or an unknown selector, names none.
 * @param data `0x`-prefixed hex, as the RPC's error object carries it.
 */
export function abiErrorName(abi: Abi, data: string | undefined): string | undefined {
  if (data === undefined || data.length !== 10) return undefined
  const selector = data.slice(2).toLowerCase()
  return abi.filter(isParameterlessError).find((error) => abiSelector(error) === selector)?.name
}
