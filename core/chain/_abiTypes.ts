/**
 * The ABI shapes `core/chain`'s codec understands, and the TypeScript values they decode to.
 * Only what the registry ABIs (`novaAppRegistryAbi`, `kmsRegistryAbi`) use: `uintN`, `bool`,
 * `address`, `bytes32`, `bytes`, `string`, dynamic arrays `T[]` and tuples of those. The
 * values are already canonical for Nova KMS: a wallet is lowercase (PROTOCOL §0), bytes are
 * `Uint8Array`, a `uint8` is a `number` and every wider integer a `bigint`.
 */
import type { Wallet } from '../encoding'

/** One parameter as it appears in an `as const` ABI item. */
export interface AbiParameter {
  readonly name: string
  readonly type: string
  readonly components?: readonly AbiParameter[]
}

export interface AbiFunction {
  readonly type: 'function'
  readonly name: string
  readonly inputs: readonly AbiParameter[]
  readonly outputs: readonly AbiParameter[]
}

export interface AbiError {
  readonly type: 'error'
  readonly name: string
  readonly inputs: readonly AbiParameter[]
}

/** An ABI: its functions and errors matter here; events and the rest are ignored. */
export type Abi = readonly ({ readonly type: string; readonly name?: string } | AbiFunction | AbiError)[]

type ElementaryValue<T extends string> = T extends 'uint8'
  ? number
  : T extends `uint${string}`
    ? bigint
    : T extends 'bool'
      ? boolean
      : T extends 'address'
        ? Wallet
        : T extends 'string'
          ? string
          : T extends 'bytes' | `bytes${string}`
            ? Uint8Array
            : never

/** Named tuple components decode to an object keyed by name, as viem does. */
export type AbiStructValue<C extends readonly AbiParameter[]> = { [P in C[number] as P['name']]: AbiParameterValue<P> }

export type AbiParameterValue<P extends AbiParameter> = P extends {
  readonly type: 'tuple'
  readonly components: infer C extends readonly AbiParameter[]
}
  ? AbiStructValue<C>
  : P extends { readonly type: 'tuple[]'; readonly components: infer C extends readonly AbiParameter[] }
    ? AbiStructValue<C>[]
    : P['type'] extends `${infer E}[]`
      ? ElementaryValue<E>[]
      : ElementaryValue<P['type']>

export type AbiParameterValues<P extends readonly AbiParameter[]> = { [I in keyof P]: AbiParameterValue<P[I]> }

export type AbiFunctionName<A extends Abi> = Extract<A[number], AbiFunction>['name']

export type AbiFunctionOf<A extends Abi, N extends AbiFunctionName<A>> = Extract<A[number], { readonly type: 'function'; readonly name: N }>

/** A single output decodes to its value; several to an array of them (viem's convention). */
export type AbiFunctionResult<A extends Abi, N extends AbiFunctionName<A>> =
  AbiFunctionOf<A, N> extends { readonly outputs: readonly [infer Only extends AbiParameter] }
    ? AbiParameterValue<Only>
    : AbiFunctionOf<A, N> extends { readonly outputs: infer O extends readonly AbiParameter[] }
      ? AbiParameterValues<O>
      : never

export type AbiFunctionArgs<A extends Abi, N extends AbiFunctionName<A>> =
  AbiFunctionOf<A, N> extends { readonly inputs: infer I extends readonly AbiParameter[] } ? AbiParameterValues<I> : never
