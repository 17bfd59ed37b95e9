/**
 * Function and error selectors (Solidity ABI spec, "Function Selector"): the first four bytes
 * of keccak-256 of the canonical signature `name(type1,type2,...)`, tuples written as
 * `(type1,...)`, no spaces, no parameter names.
 */
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex } from '../encoding'
import type { AbiParameter } from './_abiTypes'

function canonicalType(parameter: AbiParameter): string {
  if (!parameter.type.startsWith('tuple')) return parameter.type
  const components = (parameter.components ?? []).map(canonicalType).join(',')
  return `(${components})${parameter.type.slice('tuple'.length)}`
}

/** Items of the ABI constants live for the whole process: each selector is hashed once. */
const selectors = new WeakMap<object, string>()

/** @returns the selector as 8 lowercase hex digits, without `0x`. */
export function abiSelector(item: { readonly name: string; readonly inputs: readonly AbiParameter[] }): string {
  let selector = selectors.get(item)
  if (selector === undefined) {
    const signature = `${item.name}(${item.inputs.map(canonicalType).join(',')})`
    selector = bytesToHex(keccak_256(new TextEncoder().encode(signature)).subarray(0, 4))
    selectors.set(item, selector)
  }
  return selector
}
