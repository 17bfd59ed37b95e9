/** Typed readers for the CLI's `--flag value` pairs; each names the flag it rejects. */
import { getAddress, isAddress, isHex, size, stringToHex, type Address, type Hex } from 'viem'

export type Flags = Readonly<Record<string, string | undefined>>

/** Every flag the CLI accepts, with the value it takes and what it means (for `--help`). */
export const FLAG_HELP = {
  'rpc-url': { value: '<url>', meaning: "the chain's JSON-RPC" },
  'private-key': { value: '<0x…>', meaning: "the sender's key, or DEPLOYER_PRIVATE_KEY (every command that sends a transaction)" },
  'kms-app-id': { value: '<id>', meaning: "the KMS app's id in NovaAppRegistry" },
  'nova-app-registry': { value: '<address>', meaning: 'NovaAppRegistry' },
  'kms-registry': { value: '<address>', meaning: 'KMSRegistry' },
  'app-id': { value: '<id>', meaning: "the app's id" },
  'app-owner': { value: '<address>', meaning: "the app's owner" },
  'dapp-contract': { value: '<address>', meaning: 'receives addOperator/removeOperator callbacks' },
  'tee-arch': { value: '<bytes32|label>', meaning: 'TEE architecture: 32 bytes of hex, or a label of at most 32 bytes' },
  'metadata-uri': { value: '<text>', meaning: "the app's metadata URI" },
  'app-wallet': { value: '<address>', meaning: "the app wallet, which the runtime anchors the app's wallet to" },
  'version-id': { value: '<id>', meaning: 'the version number within the app' },
  'version-name': { value: '<text>', meaning: 'a name for the version' },
  'code-measurement': { value: '<bytes32>', meaning: 'keccak256(PCR0‖PCR1‖PCR2) of the enclave image' },
  'image-uri': { value: '<text>', meaning: 'where the enclave image is' },
  'instance-id': { value: '<id>', meaning: "the instance's id (register-instance prints it)" },
  operator: { value: '<address>', meaning: "the instance's operator" },
  'instance-url': { value: '<url>', meaning: "the instance's public URL (https in enclave mode)" },
  'tee-pubkey': { value: '<0x hex>', meaning: "the instance's P-384 teePubkey, DER; for a KMS node, its /status tee_pubkey" },
  'tee-wallet': { value: '<address>', meaning: "the instance's TEE wallet; for a KMS node, its /status tee_wallet" },
  'zk-verified': { value: 'true|false', meaning: 'whether the instance counts as zkVerified' },
  status: { value: '<name|number>', meaning: 'the new status (PROTOCOL §9.2)' },
  'policy-timelock-seconds': { value: '<seconds>', meaning: 'KMSRegistry POLICY_TIMELOCK_SECONDS: how long a proposed recovery policy waits for vetoes' },
  'retire-grace-seconds': { value: '<seconds>', meaning: 'KMSRegistry RETIRE_GRACE_SECONDS: how long after a rotation starts before epoch-retire --force may retire the previous epoch' },
  custodians: { value: '<key:address,…>', meaning: "the recovery custodians, in order: each a P-384 SPKI DER sealing key (120 bytes of hex) and an approver address, joined by ':'" },
  threshold: { value: '<n>', meaning: 'how many custodians rebuild the secret (1 ≤ n ≤ custodians ≤ 16)' },
  'proposal-id': { value: '<id>', meaning: 'a recovery policy proposal (recovery-propose prints it)' },
  'policy-id': { value: '<id>', meaning: 'a recovery policy id' },
  epoch: { value: '<n>', meaning: 'a key epoch: the cluster epoch to retire, or the app key epoch to set' },
  force: { value: '', meaning: 'retire without every operator\'s report, once RETIRE_GRACE_SECONDS have passed' },
  to: { value: '<address>', meaning: "KMSRegistry's nominated owner (the zero address cancels a nomination)" },
  help: { value: '', meaning: 'print the usage, or one command\'s flags with their defaults' },
} as const satisfies Record<string, { value: string; meaning: string }>

export type FlagName = keyof typeof FLAG_HELP

const STATUS_NAMES = {
  app: ['ACTIVE', 'INACTIVE', 'REVOKED'],
  version: ['ENROLLED', 'DEPRECATED', 'REVOKED'],
  instance: ['ACTIVE', 'STOPPED', 'FAILED'],
} as const

/** The flag's value, else `fallback`; with neither, the flag is required. */
export function text(flags: Flags, name: string, fallback?: string): string {
  const value = flags[name] ?? fallback
  if (value === undefined) throw new Error(`--${name} is required`)
  return value
}

export function address(flags: Flags, name: string, fallback?: string): Address {
  const value = text(flags, name, fallback)
  if (!isAddress(value, { strict: false })) throw new Error(`--${name}: expected a 20-byte hex address`)
  return getAddress(value)
}

export function hex(flags: Flags, name: string, fallback?: string): Hex {
  const value = text(flags, name, fallback)
  if (!isHex(value, { strict: true })) throw new Error(`--${name}: expected 0x-prefixed hex`)
  return value
}

/** 32 bytes of hex, or (for labels such as `--tee-arch nitro`) text of at most 32 bytes. */
export function bytes32(flags: Flags, name: string, fallback?: string): Hex {
  const value = text(flags, name, fallback)
  if (isHex(value, { strict: true })) {
    if (size(value) !== 32) throw new Error(`--${name}: expected 32 bytes of hex`)
    return value
  }
  return stringToHex(value, { size: 32 })
}

export function id(flags: Flags, name: string, fallback?: string): number {
  const value = text(flags, name, fallback)
  const parsed = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed)) throw new Error(`--${name}: expected a decimal integer`)
  return parsed
}

export function bool(flags: Flags, name: string, fallback?: string): boolean {
  const value = text(flags, name, fallback)
  if (value !== 'true' && value !== 'false') throw new Error(`--${name}: expected true or false`)
  return value === 'true'
}

/** `--status` as a PROTOCOL §9.2 name (case-insensitive) or its uint8 value. */
export function status(flags: Flags, kind: keyof typeof STATUS_NAMES): number {
  const value = text(flags, 'status').toUpperCase()
  const names: readonly string[] = STATUS_NAMES[kind]
  const index = /^\d+$/.test(value) ? Number(value) : names.indexOf(value)
  if (index < 0 || index >= names.length) throw new Error(`--status: expected one of ${names.join(', ')}`)
  return index
}
