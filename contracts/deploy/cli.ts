/**
 * Deploy and ops commands for the Nova KMS contracts (PROTOCOL §9). Run from the repo root:
 *
 *   npx tsx contracts/deploy/cli.ts <command> [--flags]
 *
 * Run `cd contracts && npx forge build` first: the commands read forge's artifacts. Every
 * command prints one JSON object on stdout; a failure prints `{"error": …}` on stderr and
 * exits with status 1. Writes need `--private-key` or `DEPLOYER_PRIVATE_KEY`.
 */
import { parseArgs } from 'node:util'
import { BaseError, ContractFunctionRevertedError, isAddress, zeroAddress } from 'viem'
import { connect } from './clients'
import { deployContracts, DEFAULT_KMS_VERSION } from './deploy'
import {
  enrollVersion,
  registerApp,
  registerInstance,
  setAppStatus,
  setInstanceStatus,
  setInstanceZkVerified,
  setVersionStatus,
} from './devRegistry'
import { readStatus, resetMasterSecretHash } from './kmsRegistry'
import { type Flags, address, bool, bytes32, hex, id, status, text } from './flags'

const USAGE = `usage: npx tsx contracts/deploy/cli.ts <command> [--flags]

common flags: --rpc-url <url> (default http://127.0.0.1:8545)
              --private-key <0x…> (or DEPLOYER_PRIVATE_KEY; every command but status)

deploy                    [--kms-app-id 49] [--nova-app-registry <addr>]
                          [--version-id 1] [--version-name dev] [--code-measurement <bytes32>]
                          [--image-uri ""]
register-app              --nova-app-registry --app-id [--app-owner] [--dapp-contract]
                          [--tee-arch nitro] [--metadata-uri] [--app-wallet]
enroll-version            --nova-app-registry --app-id --version-id [--version-name]
                          [--code-measurement] [--image-uri]
register-instance         --nova-app-registry --app-id --version-id --tee-wallet
                          [--operator] [--instance-url] [--tee-pubkey <hex>] [--zk-verified true]
set-instance-status       --nova-app-registry --instance-id --status ACTIVE|STOPPED|FAILED
set-version-status        --nova-app-registry --app-id --version-id --status ENROLLED|DEPRECATED|REVOKED
set-app-status            --nova-app-registry --app-id --status ACTIVE|INACTIVE|REVOKED
set-zk-verified           --nova-app-registry --instance-id --zk-verified true|false
reset-master-secret-hash  --kms-registry
status                    --kms-registry`

const FLAG_NAMES = [
  'rpc-url',
  'private-key',
  'kms-app-id',
  'nova-app-registry',
  'kms-registry',
  'app-id',
  'app-owner',
  'dapp-contract',
  'tee-arch',
  'metadata-uri',
  'app-wallet',
  'version-id',
  'version-name',
  'code-measurement',
  'image-uri',
  'instance-id',
  'operator',
  'instance-url',
  'tee-pubkey',
  'tee-wallet',
  'zk-verified',
  'status',
] as const

type Command = (flags: Flags, rpcUrl: string) => Promise<unknown>

function privateKey(flags: Flags) {
  return hex(flags, 'private-key', process.env.DEPLOYER_PRIVATE_KEY)
}

/** Connects as the owner, for the development registry's setters. */
function registryTarget(flags: Flags, rpcUrl: string) {
  return { clients: connect({ rpcUrl, privateKey: privateKey(flags) }), novaAppRegistry: address(flags, 'nova-app-registry') }
}

const COMMANDS: Record<string, Command> = {
  deploy: (flags, rpcUrl) =>
    deployContracts({
      rpcUrl,
      privateKey: privateKey(flags),
      kmsAppId: id(flags, 'kms-app-id', '49'),
      ...(flags['nova-app-registry'] === undefined ? {} : { novaAppRegistry: address(flags, 'nova-app-registry') }),
      version: {
        versionId: id(flags, 'version-id', String(DEFAULT_KMS_VERSION.versionId)),
        versionName: text(flags, 'version-name', DEFAULT_KMS_VERSION.versionName),
        codeMeasurement: bytes32(flags, 'code-measurement', DEFAULT_KMS_VERSION.codeMeasurement),
        imageUri: text(flags, 'image-uri', DEFAULT_KMS_VERSION.imageUri),
      },
    }),
  'register-app': (flags, rpcUrl) => {
    const target = registryTarget(flags, rpcUrl)
    return registerApp({
      ...target,
      appId: id(flags, 'app-id'),
      appOwner: address(flags, 'app-owner', target.clients.account.address),
      dappContract: address(flags, 'dapp-contract', zeroAddress),
      teeArch: bytes32(flags, 'tee-arch', 'nitro'),
      metadataUri: text(flags, 'metadata-uri', ''),
      appWallet: address(flags, 'app-wallet', zeroAddress),
    })
  },
  'enroll-version': (flags, rpcUrl) =>
    enrollVersion({
      ...registryTarget(flags, rpcUrl),
      appId: id(flags, 'app-id'),
      versionId: id(flags, 'version-id'),
      versionName: text(flags, 'version-name', ''),
      codeMeasurement: bytes32(flags, 'code-measurement', DEFAULT_KMS_VERSION.codeMeasurement),
      imageUri: text(flags, 'image-uri', ''),
    }),
  'register-instance': (flags, rpcUrl) => {
    const target = registryTarget(flags, rpcUrl)
    return registerInstance({
      ...target,
      appId: id(flags, 'app-id'),
      versionId: id(flags, 'version-id'),
      operator: address(flags, 'operator', target.clients.account.address),
      instanceUrl: text(flags, 'instance-url', ''),
      teePubkey: hex(flags, 'tee-pubkey', '0x'),
      teeWalletAddress: address(flags, 'tee-wallet'),
      zkVerified: bool(flags, 'zk-verified', 'true'),
    })
  },
  'set-instance-status': (flags, rpcUrl) =>
    setInstanceStatus({
      ...registryTarget(flags, rpcUrl),
      instanceId: id(flags, 'instance-id'),
      status: status(flags, 'instance'),
    }),
  'set-version-status': (flags, rpcUrl) =>
    setVersionStatus({
      ...registryTarget(flags, rpcUrl),
      appId: id(flags, 'app-id'),
      versionId: id(flags, 'version-id'),
      status: status(flags, 'version'),
    }),
  'set-app-status': (flags, rpcUrl) =>
    setAppStatus({ ...registryTarget(flags, rpcUrl), appId: id(flags, 'app-id'), status: status(flags, 'app') }),
  'set-zk-verified': (flags, rpcUrl) =>
    setInstanceZkVerified({
      ...registryTarget(flags, rpcUrl),
      instanceId: id(flags, 'instance-id'),
      zkVerified: bool(flags, 'zk-verified'),
    }),
  'reset-master-secret-hash': (flags, rpcUrl) =>
    resetMasterSecretHash({
      clients: connect({ rpcUrl, privateKey: privateKey(flags) }),
      kmsRegistry: address(flags, 'kms-registry'),
    }),
  status: (flags, rpcUrl) => readStatus({ rpcUrl, kmsRegistry: address(flags, 'kms-registry') }),
}

/** A revert's contract error, e.g. `NovaAppRegistryWalletAlreadyRegistered(0x…)`, else the message. */
function describe(error: unknown): string {
  if (!(error instanceof BaseError)) return error instanceof Error ? error.message : String(error)
  const reverted = error.walk((cause) => cause instanceof ContractFunctionRevertedError)
  const decoded = reverted instanceof ContractFunctionRevertedError ? reverted.data : undefined
  if (decoded?.errorName === undefined) return error.shortMessage
  const args = (decoded.args ?? []).map((arg) =>
    typeof arg === 'string' && isAddress(arg) ? arg.toLowerCase() : String(arg),
  )
  return `${decoded.errorName}(${args.join(', ')})`
}

async function main(): Promise<void> {
  try {
    const { positionals, values } = parseArgs({
      allowPositionals: true,
      options: Object.fromEntries(FLAG_NAMES.map((name) => [name, { type: 'string' }] as const)),
    })
    const name = positionals.length === 1 ? positionals[0]! : ''
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
    if (command === undefined) {
      process.stderr.write(`${USAGE}\n`)
      throw new Error(`unknown command ${JSON.stringify(positionals.join(' '))}`)
    }
    const flags = values as Flags
    const result = await command(flags, text(flags, 'rpc-url', 'http://127.0.0.1:8545'))
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } catch (error) {
    process.stderr.write(`${JSON.stringify({ error: describe(error) })}\n`)
    process.exitCode = 1
  }
}

await main()
