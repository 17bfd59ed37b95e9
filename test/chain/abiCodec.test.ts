/**
 * core/chain's ABI codec against viem's, differentially (fast-check): every registry view's
 * return type, encoded by viem's `encodeAbiParameters`, decodes to what viem's
 * `decodeFunctionResult` gives (in Nova KMS's canonical form: lowercase wallets, bytes as
 * `Uint8Array`); calldata equals viem's `encodeFunctionData`; error selectors match viem's.
 * Then the strictness viem does not have: malformed data is an `AbiDecodingError`, and
 * through a reader `registry_unavailable`, never "not found".
 */
import fc from 'fast-check'
import { describe, expect, test, afterAll } from 'vitest'
import {
  bytesToHex as viemBytesToHex,
  decodeFunctionResult as viemDecodeFunctionResult,
  encodeAbiParameters,
  encodeErrorResult,
  encodeFunctionData,
  encodeFunctionResult,
  hexToBytes,
  type AbiParameter as ViemAbiParameter,
} from 'viem'
import { createChainReaders, kmsRegistryAbi, novaAppRegistryAbi } from '../../core/chain'
import { AbiDecodingError } from '../../core/chain/_abiErrors'
import { abiErrorName } from '../../core/chain/_abiErrorName'
import type { Abi, AbiFunction, AbiParameter } from '../../core/chain/_abiTypes'
import { decodeFunctionResult } from '../../core/chain/_decodeFunctionResult'
import { encodeFunctionCall } from '../../core/chain/_encodeFunctionCall'
import type { Wallet } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import { startRpcDouble, type RpcDouble } from './_doubles'

const ABIS: [string, Abi][] = [
  ['NovaAppRegistry', novaAppRegistryAbi],
  ['KMSRegistry', kmsRegistryAbi],
]
const views = ABIS.flatMap(([contract, abi]) =>
  abi
    .filter((item): item is AbiFunction => item.type === 'function' && 'stateMutability' in item && item.stateMutability === 'view')
    .map((item) => ({ contract, abi, item })),
)

const hexOf = (length: number) => fc.uint8Array({ minLength: length, maxLength: length }).map((bytes) => viemBytesToHex(bytes))

/** Values in viem's input form for one ABI parameter. */
function viemValue(parameter: AbiParameter): fc.Arbitrary<unknown> {
  const { type } = parameter
  if (type.endsWith('[]')) {
    return fc.array(viemValue({ ...parameter, type: type.slice(0, -2) }), { maxLength: 4 })
  }
  if (type === 'tuple') {
    const components = parameter.components ?? []
    return fc.record(Object.fromEntries(components.map((component) => [component.name, viemValue(component)])))
  }
  if (type === 'uint8') return fc.integer({ min: 0, max: 255 })
  const uint = /^uint(\d+)$/.exec(type)
  if (uint !== null) return fc.bigInt({ min: 0n, max: 2n ** BigInt(uint[1]!) - 1n })
  if (type === 'bool') return fc.boolean()
  if (type === 'address') return hexOf(20)
  if (type === 'bytes32') return hexOf(32)
  if (type === 'bytes') return fc.uint8Array({ maxLength: 70 }).map((bytes) => viemBytesToHex(bytes))
  // Any Unicode text; a leading U+FEFF is left out because viem's TextDecoder drops it
  // while this codec keeps the bytes as they are (tested on its own below).
  if (type === 'string') return fc.string({ unit: 'binary', maxLength: 40 }).filter((text) => !text.startsWith('\uFEFF'))
  throw new Error(`no arbitrary for ${type}`)
}

/** viem's decoded value, put in the codec's canonical form. */
function canonical(parameter: AbiParameter, value: unknown): unknown {
  const { type } = parameter
  if (type.endsWith('[]')) return (value as unknown[]).map((element) => canonical({ ...parameter, type: type.slice(0, -2) }, element))
  if (type === 'tuple') {
    const record = value as Record<string, unknown>
    return Object.fromEntries((parameter.components ?? []).map((component) => [component.name, canonical(component, record[component.name])]))
  }
  if (type === 'address') return (value as string).toLowerCase()
  if (type === 'bytes' || type === 'bytes32') return hexToBytes(value as `0x${string}`)
  return value
}

/** A view's outputs as viem encodes them, and the values viem decodes them to. */
function encodedOutputs(item: AbiFunction): fc.Arbitrary<{ data: Uint8Array; values: unknown[] }> {
  return fc.tuple(...item.outputs.map(viemValue)).map((values) => ({
    data: hexToBytes(encodeAbiParameters(item.outputs as readonly ViemAbiParameter[], values)),
    values,
  }))
}

function decodeAs(abi: Abi, name: string, data: Uint8Array): unknown {
  return decodeFunctionResult(abi, name as never, data)
}

describe('differential: the codec agrees with viem', () => {
  test.each(views.map((view) => [`${view.contract}.${view.item.name}`, view] as const))('behavior: %s results decode as viem decodes them', (_name, { abi, item }) => {
    fc.assert(
      fc.property(encodedOutputs(item), ({ data }) => {
        const ours = decodeAs(abi, item.name, data)
        const viems: unknown = viemDecodeFunctionResult({ abi: abi as never, functionName: item.name, data: viemBytesToHex(data) } as never)
        const expected = item.outputs.length === 1 ? canonical(item.outputs[0]!, viems) : item.outputs.map((output, index) => canonical(output, (viems as unknown[])[index]))
        expect(ours).toEqual(expected)
      }),
      { numRuns: 60 },
    )
  })

  const withInputs = views.filter((view) => view.item.inputs.length > 0)
  test.each(withInputs.map((view) => [`${view.contract}.${view.item.name}`, view] as const))('behavior: %s calldata equals viem\'s', (_name, { abi, item }) => {
    fc.assert(
      fc.property(fc.tuple(...item.inputs.map(viemValue)), (viemArgs) => {
        const args = item.inputs.map((input, index) => canonical(input, viemArgs[index]))
        const ours = encodeFunctionCall(abi, item.name as never, args as never)
        expect(ours).toBe(encodeFunctionData({ abi: abi as never, functionName: item.name, args: viemArgs } as never))
      }),
      { numRuns: 40 },
    )
  })

  test('behavior: each parameterless error is named from its selector, as viem encodes it', () => {
    const errors = kmsRegistryAbi.filter((item) => item.type === 'error')
    expect(errors.length).toBeGreaterThan(5)
    for (const error of errors) {
      expect(abiErrorName(kmsRegistryAbi, encodeErrorResult({ abi: kmsRegistryAbi, errorName: error.name }))).toBe(error.name)
    }
    expect(abiErrorName(kmsRegistryAbi, '0x12345678')).toBeUndefined()
    expect(abiErrorName(kmsRegistryAbi, `${encodeErrorResult({ abi: kmsRegistryAbi, errorName: 'NoBackup' })}00`)).toBeUndefined()
  })

  test('behavior: a string keeps its bytes, a leading byte-order mark included', () => {
    const data = hexToBytes(encodeFunctionResult({ abi: novaAppRegistryAbi, functionName: 'getApp', result: appResult({ metadataUri: '\uFEFFipfs://x' }) }))
    expect(decodeFunctionResult(novaAppRegistryAbi, 'getApp', data).metadataUri).toBe('\uFEFFipfs://x')
  })
})

const WALLET = `0x${'ab'.repeat(20)}` as Wallet

function appResult(overrides: Partial<Record<string, unknown>> = {}) {
  return {
    appId: 7n,
    owner: WALLET,
    teeArch: `0x${'01'.repeat(32)}`,
    dappContract: WALLET,
    metadataUri: 'ipfs://app',
    latestVersionId: 1n,
    createdAt: 1_700_000_000n,
    status: 0,
    appWallet: WALLET,
    ...overrides,
  } as never
}

function instanceResult() {
  return {
    instanceId: 3n,
    appId: 7n,
    versionId: 1n,
    operator: WALLET,
    instanceUrl: 'https://node.example',
    teePubkey: `0x${'04'.repeat(97)}`,
    teeWalletAddress: WALLET,
    zkVerified: true,
    status: 0,
    registeredAt: 1_700_000_000n,
  } as const
}

const word = (value: bigint | number) => BigInt(value).toString(16).padStart(64, '0')
const bytesOf = (hex: string) => hexToBytes(`0x${hex}`)

function expectMalformed(decode: () => unknown, message?: RegExp): void {
  let thrown: unknown
  try {
    decode()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(AbiDecodingError)
  if (message !== undefined) expect((thrown as Error).message).toMatch(message)
}

describe('strict decoding: malformed data is refused', () => {
  const instance = hexToBytes(encodeFunctionResult({ abi: novaAppRegistryAbi, functionName: 'getInstanceByWallet', result: instanceResult() }))

  test('error: no data at all is "returned no data"', () => {
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'kmsAppId', new Uint8Array()), /returned no data/)
  })

  test('error: every truncation of a tuple with dynamic parts is refused', () => {
    expect(decodeFunctionResult(novaAppRegistryAbi, 'getInstanceByWallet', instance).instanceUrl).toBe('https://node.example')
    fc.assert(
      fc.property(fc.integer({ min: 0, max: instance.length - 1 }), (length) => {
        expectMalformed(() => decodeFunctionResult(novaAppRegistryAbi, 'getInstanceByWallet', instance.slice(0, length)))
      }),
    )
  })

  test('error: an offset past the end', () => {
    const data = instance.slice()
    data.set(bytesOf(word(0x10000)), 0)
    expectMalformed(() => decodeFunctionResult(novaAppRegistryAbi, 'getInstanceByWallet', data), /offset at byte 0 is past the end/)
    const huge = instance.slice()
    huge.set(bytesOf('ff'.repeat(32)), 0)
    expectMalformed(() => decodeFunctionResult(novaAppRegistryAbi, 'getInstanceByWallet', huge), /past the end/)
  })

  test('error: an address with dirty high-order bytes, in a tuple and in an array', () => {
    const data = instance.slice()
    // The tuple's head starts after its offset word; `operator` is its fourth word.
    data[32 + 3 * 32] = 1
    expectMalformed(() => decodeFunctionResult(novaAppRegistryAbi, 'getInstanceByWallet', data), /dirty high-order bytes/)
    const operators = bytesOf(word(32) + word(2) + word(1) + `ff${'00'.repeat(11)}${'22'.repeat(20)}`)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'getOperators', operators), /dirty high-order bytes/)
  })

  test('error: a bool other than 0 or 1', () => {
    expect(decodeFunctionResult(kmsRegistryAbi, 'isOperator', bytesOf(word(1)))).toBe(true)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'isOperator', bytesOf(word(2))), /neither 0 nor 1/)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'isOperator', bytesOf(`01${'00'.repeat(31)}`)), /neither 0 nor 1/)
  })

  test('error: a uint8 of 256 or more, a uint64 of 2^64 or more', () => {
    const policy = bytesOf(word(256) + word(64) + word(0))
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'getRecoveryPolicy', policy), /uint8 at byte 0 is out of range/)
    expect(decodeFunctionResult(kmsRegistryAbi, 'epochStartedAt', bytesOf(word(2n ** 64n - 1n)))).toBe(2n ** 64n - 1n)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'epochStartedAt', bytesOf(word(2n ** 64n))), /uint64/)
  })

  test('error: a string that is not UTF-8, and dirty padding after bytes', () => {
    const data = hexToBytes(encodeFunctionResult({ abi: novaAppRegistryAbi, functionName: 'getApp', result: appResult({ metadataUri: 'abc' }) }))
    const at = data.length - 32
    expect(data.subarray(at, at + 3)).toEqual(new TextEncoder().encode('abc'))
    const badUtf8 = data.slice()
    badUtf8[at] = 0xff
    expectMalformed(() => decodeFunctionResult(novaAppRegistryAbi, 'getApp', badUtf8), /not valid UTF-8/)
    const dirty = data.slice()
    dirty[at + 3] = 1
    expectMalformed(() => decodeFunctionResult(novaAppRegistryAbi, 'getApp', dirty), /dirty padding/)
  })

  test('error: lengths that overflow (an array of 2^255, bytes longer than the data)', () => {
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'getOperators', bytesOf(word(32) + word(2n ** 255n))), /past the end/)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'getOperators', bytesOf(word(32) + word(3) + word(1))), /array of 3/)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'getSealedShare', bytesOf(word(64) + word(0) + word(1000) + word(0))), /bytes length at byte 64 is past the end/)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'getSealedShare', bytesOf(word(64) + word(0) + word(100) + word(0))), /bytes of 100 bytes at byte 64 runs past the end/)
  })

  test('error: offsets that point many elements at one tail are refused, not multiplied', () => {
    // getRecoveryPolicy: (uint8 threshold, (bytes sealingKey, address approver)[] custodians).
    // 200 elements share one 1 KiB key: 8 KiB of data that would decode to 200 KiB.
    const count = 200
    const elementsStart = count * 32
    const element = word(64) + word(0) + word(1024) + 'aa'.repeat(1024)
    const data = bytesOf(word(1) + word(64) + word(count) + word(elementsStart).repeat(count) + element)
    expectMalformed(() => decodeFunctionResult(kmsRegistryAbi, 'getRecoveryPolicy', data), /exceed the return data/)
    // One element with the same layout is fine.
    const single = bytesOf(word(1) + word(64) + word(1) + word(32) + element)
    expect(decodeFunctionResult(kmsRegistryAbi, 'getRecoveryPolicy', single)[1]).toHaveLength(1)
  })
})

describe('through a reader: malformed is registry_unavailable', () => {
  let double: RpcDouble | undefined
  afterAll(() => double?.close())

  test('error: dirty bits, a bad bool or bad UTF-8 in an answer never read as a record or as not found', async () => {
    const instance = hexToBytes(encodeFunctionResult({ abi: novaAppRegistryAbi, functionName: 'getInstanceByWallet', result: instanceResult() }))
    const dirtyWallet = instance.slice()
    dirtyWallet[32 + 6 * 32] = 1 // teeWalletAddress
    const app = hexToBytes(encodeFunctionResult({ abi: novaAppRegistryAbi, functionName: 'getApp', result: appResult({ metadataUri: 'abc' }) }))
    app[app.length - 32] = 0xff
    const answers: Record<string, string> = {
      [encodeFunctionData({ abi: novaAppRegistryAbi, functionName: 'getInstanceByWallet', args: [WALLET] })]: viemBytesToHex(dirtyWallet),
      [encodeFunctionData({ abi: novaAppRegistryAbi, functionName: 'getApp', args: [7n] })]: viemBytesToHex(app),
      [encodeFunctionData({ abi: kmsRegistryAbi, functionName: 'isOperator', args: [WALLET] })]: `0x${word(2)}`,
    }
    double = await startRpcDouble((_method, params) => {
      const data = (params[0] as { data: string }).data
      return { result: answers[data] ?? '0x' }
    })
    const readers = createChainReaders({ rpcUrl: double.url, novaAppRegistry: WALLET, kmsRegistry: WALLET })
    const reads: [Promise<unknown>, RegExp][] = [
      [readers.novaAppRegistry.getInstanceByWallet(WALLET), /getInstanceByWallet: address at byte \d+ has dirty high-order bytes/],
      [readers.novaAppRegistry.getApp(7), /getApp: string at byte \d+ is not valid UTF-8/],
      [readers.kmsRegistry.isOperator(WALLET), /isOperator: bool at byte 0 is neither 0 nor 1/],
      [readers.kmsRegistry.kmsAppId(), /kmsAppId: returned no data/],
    ]
    for (const [read, details] of reads) {
      const error = await read.then(
        () => undefined,
        (rejection: unknown) => rejection,
      )
      expect(error).toBeInstanceOf(KmsError)
      expect((error as KmsError).code).toBe('registry_unavailable')
      expect((error as KmsError).details).toMatch(details)
    }
  })
})
