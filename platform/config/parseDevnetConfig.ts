/**
 * The runtime's configuration, read from the devnet description (`devnet.json`) that the
 * devnet launcher writes. Fields it relies on:
 * - `apps[]`: `{ appId, wallet, walletKey (hex), teeScalar (hex P-384 scalar), pcrs? }`; the
 *   entry whose `appId` is the one asked for is this runtime's app instance. `pcrs`,
 *   `{"0": hex, "1": hex, "2": hex}` (48 bytes each), replaces the zero PCR0..2 of its
 *   documents (`instancePcrs.ts`);
 * - `kmsAppId`, `rpcUrl`, `contracts.novaAppRegistry`, `contracts.kmsRegistry`: the KMS
 *   integration. Without `kmsAppId` the runtime has none (RUNTIME.md §2: `/v1/kms/*` answers
 *   400 `KMS integration not configured`); with it, the other three are required.
 */
import { p384 } from '@noble/curves/nist.js'
import { privateKeyToWallet } from '../../core/crypto'
import { parseHex, parseWallet, type Wallet } from '../../core/encoding'
import { PCR_BYTES, parsePcrValue, type InstancePcrs } from './instancePcrs'

export interface KmsIntegrationConfig {
  rpcUrl: string
  kmsAppId: number
  novaAppRegistry: Wallet
  kmsRegistry: Wallet
}

export interface RuntimeConfig {
  appId: number
  /** The instance's TEE wallet key (secp256k1, 32 bytes). */
  walletKey: Uint8Array
  wallet: Wallet
  /** The instance's P-384 scalar (48 bytes): its registered teePubkey's key. */
  teeScalar: Uint8Array
  /** PCR0..2 of the instance's documents; `undefined`: all zero, as the dev stand-in's. */
  pcrs: InstancePcrs | undefined
  kms: KmsIntegrationConfig | undefined
}

/** The devnet description does not hold what the runtime needs; the message says what. */
export class DevnetConfigError extends Error {
  override readonly name = 'DevnetConfigError'
}

function objectAt(value: unknown, where: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DevnetConfigError(`${where} must be a JSON object`)
  return value as Readonly<Record<string, unknown>>
}

function hexAt(value: unknown, where: string, length: number): Uint8Array {
  const bytes = typeof value === 'string' ? parseHex(value) : undefined
  if (bytes === undefined || bytes.length !== length) throw new DevnetConfigError(`${where} must be ${length} bytes of hex`)
  return bytes
}

function walletAt(value: unknown, where: string): Wallet {
  const wallet = typeof value === 'string' ? parseWallet(value) : undefined
  if (wallet === undefined) throw new DevnetConfigError(`${where} must be an address`)
  return wallet
}

function idAt(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new DevnetConfigError(`${where} must be a non-negative integer`)
  return value
}

function kmsIntegration(devnet: Readonly<Record<string, unknown>>): KmsIntegrationConfig | undefined {
  if (devnet['kmsAppId'] === undefined) return undefined
  const contracts = objectAt(devnet['contracts'], 'contracts')
  const rpcUrl = devnet['rpcUrl']
  if (typeof rpcUrl !== 'string' || rpcUrl === '') throw new DevnetConfigError('rpcUrl must be a URL')
  return {
    rpcUrl,
    kmsAppId: idAt(devnet['kmsAppId'], 'kmsAppId'),
    novaAppRegistry: walletAt(contracts['novaAppRegistry'], 'contracts.novaAppRegistry'),
    kmsRegistry: walletAt(contracts['kmsRegistry'], 'contracts.kmsRegistry'),
  }
}

function keyAt(value: unknown, where: string, length: number, valid: (bytes: Uint8Array) => unknown): Uint8Array {
  const bytes = hexAt(value, where, length)
  try {
    valid(bytes)
  } catch (error) {
    if (error instanceof RangeError) throw new DevnetConfigError(`${where} is not a valid key`)
    throw error
  }
  return bytes
}

const PCR_KEYS = ['0', '1', '2']

/** All three or none: a partial set would leave a zero PCR, which verifiers read as debug mode. */
function pcrsAt(value: unknown, where: string): InstancePcrs | undefined {
  if (value === undefined) return undefined
  const keys = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.keys(value).sort() : undefined
  if (keys === undefined || keys.join() !== PCR_KEYS.join()) throw new DevnetConfigError(`${where} must be an object with exactly the keys "0", "1" and "2"`)
  const pcrs = new Map<number, Uint8Array>()
  for (const key of PCR_KEYS) {
    const bytes = parsePcrValue((value as Record<string, unknown>)[key])
    if (bytes === undefined) throw new DevnetConfigError(`${where}.${key} must be ${PCR_BYTES} bytes of hex`)
    pcrs.set(Number(key), bytes)
  }
  return pcrs
}

/**
 * Picks app `appId` out of a parsed `devnet.json`.
 * @throws DevnetConfigError naming the missing or invalid field.
 */
export function parseDevnetConfig(json: unknown, appId: number): RuntimeConfig {
  const devnet = objectAt(json, 'devnet.json')
  const apps = devnet['apps']
  if (!Array.isArray(apps)) throw new DevnetConfigError('apps must be an array')
  const index = apps.findIndex((entry: unknown) => typeof entry === 'object' && entry !== null && (entry as Record<string, unknown>)['appId'] === appId)
  if (index < 0) throw new DevnetConfigError(`no app with appId ${appId} in apps`)
  const app = objectAt(apps[index], `apps[${index}]`)
  const walletKey = keyAt(app['walletKey'], `apps[${index}].walletKey`, 32, privateKeyToWallet)
  const wallet = privateKeyToWallet(walletKey)
  if (app['wallet'] !== undefined && walletAt(app['wallet'], `apps[${index}].wallet`) !== wallet) {
    throw new DevnetConfigError(`apps[${index}].wallet is not the address of apps[${index}].walletKey`)
  }
  const teeScalar = hexAt(app['teeScalar'], `apps[${index}].teeScalar`, 48)
  if (!p384.utils.isValidSecretKey(teeScalar)) throw new DevnetConfigError(`apps[${index}].teeScalar is not a valid P-384 scalar`)
  return { appId, walletKey, wallet, teeScalar, pcrs: pcrsAt(app['pcrs'], `apps[${index}].pcrs`), kms: kmsIntegration(devnet) }
}
