/**
 * Strict decoding of a registry view's return data (Solidity ABI spec, "Formal
 * Specification of the Encoding" and "Use of Dynamic Types"). The RPC is not trusted, so
 * every rule an honest encoder follows is checked instead of assumed:
 * - every word, offset and length lies inside the data; nothing is read past the end;
 * - `address`: the 12 high-order bytes are zero; `bool`: the word is 0 or 1; `uintN`: the
 *   value is below 2^N (the spec pads on the higher-order side with zeros);
 * - `bytes`/`string`: the content is padded with zeros to a multiple of 32 bytes, and a
 *   string is valid UTF-8;
 * - the decoded values never add up to more than the data itself: an honest encoding gives
 *   every value its own bytes, while offsets that point many elements at one large tail
 *   would otherwise blow a 1 MiB answer up into gigabytes.
 * Trailing bytes after the encoding are allowed, as Solidity's own decoder allows them.
 */
import { bytesToHex } from '../encoding'
import { AbiDecodingError } from './_abiErrors'
import { abiFunction } from './_abiFunction'
import type { Abi, AbiFunctionName, AbiFunctionResult, AbiParameter } from './_abiTypes'

const WORD = 32

type Decoded = bigint | number | boolean | string | Uint8Array | Decoded[] | { [name: string]: Decoded }

interface Input {
  readonly data: Uint8Array
  /** Bytes of decoded content still allowed (starts at the data's length). */
  budget: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function isDynamic(parameter: AbiParameter): boolean {
  const { type } = parameter
  if (type === 'bytes' || type === 'string' || type.endsWith('[]')) return true
  return type === 'tuple' && (parameter.components ?? []).some(isDynamic)
}

/** The bytes a parameter takes in its enclosing head: one word, or a static tuple's words. */
function headSize(parameter: AbiParameter): number {
  if (parameter.type !== 'tuple' || isDynamic(parameter)) return WORD
  return (parameter.components ?? []).reduce((total, component) => total + headSize(component), 0)
}

function spend(input: Input, bytes: number): void {
  input.budget -= bytes
  if (input.budget < 0) throw new AbiDecodingError('decoded values exceed the return data (overlapping offsets)')
}

function word(input: Input, at: number): Uint8Array {
  if (at + WORD > input.data.length) {
    throw new AbiDecodingError(`truncated: a word at byte ${at} is past the end (${input.data.length} bytes)`)
  }
  return input.data.subarray(at, at + WORD)
}

function highBytesZero(bytes: Uint8Array, count: number): boolean {
  for (let index = 0; index < count; index++) if (bytes[index] !== 0) return false
  return true
}

/** An offset or a length: must fit in the data, so it also fits in a JS number. */
function readSize(input: Input, at: number, what: string): number {
  const bytes = word(input, at)
  const value = highBytesZero(bytes, 28) ? ((bytes[28]! << 24) >>> 0) + (bytes[29]! << 16) + (bytes[30]! << 8) + bytes[31]! : Infinity
  if (value > input.data.length) throw new AbiDecodingError(`${what} at byte ${at} is past the end (${input.data.length} bytes)`)
  return value
}

function decodeElementary(type: string, input: Input, at: number): Decoded {
  const bytes = word(input, at)
  spend(input, WORD)
  const uint = /^uint(\d+)$/.exec(type)
  if (uint !== null) {
    const bits = Number(uint[1])
    if (bits < 8 || bits > 256 || bits % 8 !== 0) throw new AbiDecodingError(`unsupported type ${type}`)
    if (!highBytesZero(bytes, WORD - bits / 8)) throw new AbiDecodingError(`${type} at byte ${at} is out of range`)
    return bits === 8 ? bytes[31]! : BigInt(`0x${bytesToHex(bytes)}`)
  }
  if (type === 'bool') {
    if (!highBytesZero(bytes, 31) || bytes[31]! > 1) throw new AbiDecodingError(`bool at byte ${at} is neither 0 nor 1`)
    return bytes[31] === 1
  }
  if (type === 'address') {
    if (!highBytesZero(bytes, 12)) throw new AbiDecodingError(`address at byte ${at} has dirty high-order bytes`)
    return `0x${bytesToHex(bytes.subarray(12))}`
  }
  const fixed = /^bytes(\d+)$/.exec(type)
  if (fixed !== null) {
    const size = Number(fixed[1])
    if (size < 1 || size > 32) throw new AbiDecodingError(`unsupported type ${type}`)
    // "bytes<M>: enc(X) is the sequence of bytes in X padded with trailing zero-bytes".
    if (!bytes.subarray(size).every((byte) => byte === 0)) throw new AbiDecodingError(`${type} at byte ${at} has dirty padding`)
    return bytes.slice(0, size)
  }
  throw new AbiDecodingError(`unsupported type ${type}`)
}

/** `bytes` and `string`: a length word, then the content padded to whole words. */
function decodeBytes(type: 'bytes' | 'string', input: Input, at: number): Decoded {
  const length = readSize(input, at, `${type} length`)
  const start = at + WORD
  const padded = Math.ceil(length / WORD) * WORD
  if (start + padded > input.data.length) {
    throw new AbiDecodingError(`truncated: ${type} of ${length} bytes at byte ${at} runs past the end`)
  }
  spend(input, padded)
  const content = input.data.subarray(start, start + length)
  if (!input.data.subarray(start + length, start + padded).every((byte) => byte === 0)) {
    throw new AbiDecodingError(`${type} at byte ${at} has dirty padding`)
  }
  if (type === 'bytes') return content.slice()
  try {
    return utf8.decode(content)
  } catch {
    throw new AbiDecodingError(`string at byte ${at} is not valid UTF-8`)
  }
}

/**
 * A sequence of parameters (a tuple's components, an array's elements, the outputs) encoded
 * from `start`: static values in place, dynamic ones behind an offset relative to `start`.
 */
function decodeSequence(parameters: readonly AbiParameter[], input: Input, start: number): Decoded[] {
  const values: Decoded[] = []
  let head = start
  for (const parameter of parameters) {
    if (isDynamic(parameter)) {
      const offset = readSize(input, head, `${parameter.type} offset`)
      values.push(decodeAt(parameter, input, start + offset))
      head += WORD
    } else {
      values.push(decodeAt(parameter, input, head))
      head += headSize(parameter)
    }
  }
  return values
}

function decodeAt(parameter: AbiParameter, input: Input, at: number): Decoded {
  const { type } = parameter
  if (type.endsWith('[]')) {
    const element: AbiParameter = { name: parameter.name, type: type.slice(0, -2), components: parameter.components }
    const length = readSize(input, at, 'array length')
    // Checked before anything is allocated: each element takes at least its head here.
    if (length * headSize(element) > input.data.length - at - WORD) {
      throw new AbiDecodingError(`truncated: an array of ${length} at byte ${at} runs past the end`)
    }
    return decodeSequence(new Array<AbiParameter>(length).fill(element), input, at + WORD)
  }
  if (type === 'tuple') {
    const components = parameter.components ?? []
    const values = decodeSequence(components, input, at)
    return Object.fromEntries(components.map((component, index) => [component.name, values[index]!]))
  }
  if (type === 'bytes' || type === 'string') return decodeBytes(type, input, at)
  return decodeElementary(type, input, at)
}

/**
 * @returns the decoded outputs: a single output as its value, several as an array (viem's
 *   convention); a tuple as an object keyed by component name; wallets lowercase.
 * @throws AbiDecodingError on malformed data; `returned no data ("0x")` when there is none
 *   (an address without a contract answers an `eth_call` with empty data, not a revert).
 */
export function decodeFunctionResult<A extends Abi, N extends AbiFunctionName<A>>(
  abi: A,
  functionName: N,
  data: Uint8Array,
): AbiFunctionResult<A, N> {
  const { outputs } = abiFunction(abi, functionName)
  if (data.length === 0 && outputs.length > 0) throw new AbiDecodingError('returned no data ("0x")')
  const values = decodeSequence(outputs, { data, budget: data.length }, 0)
  // The shape follows from the ABI item the type is computed from; the differential test
  // (test/chain/abiCodec.test.ts) holds the two together.
  const result: unknown = outputs.length === 1 ? values[0] : values
  return result as AbiFunctionResult<A, N>
}
