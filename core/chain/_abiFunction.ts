import type { Abi, AbiFunction } from './_abiTypes'

/**
 * The function item `name` of `abi`. The ABI constants list each view once (no overloads),
 * which `test/chain/abi.test.ts` checks against the forge artifacts.
 * @throws TypeError if `abi` has no such function (a caller bug: the names are typed).
 */
export function abiFunction(abi: Abi, name: string): AbiFunction {
  const item = abi.find((entry): entry is AbiFunction => entry.type === 'function' && entry.name === name)
  if (item === undefined) throw new TypeError(`functionName: the ABI has no function ${name}`)
  return item
}
