/**
 * Deploy and ops commands for the Nova KMS contracts (PROTOCOL §9). Run from the repo root:
 *
 *   npx tsx contracts/deploy/cli.ts <command> [--flags]
 *
 * Run `cd contracts && npx forge build` first: the commands read forge's artifacts. Every
 * command prints one JSON object on stdout; a failure prints `{"error": …}` on stderr and
 * exits with status 1. Writes need `--private-key` or `DEPLOYER_PRIVATE_KEY`. `--help`
 * lists the commands; `<command> --help` lists one command's flags with their defaults.
 */
import { parseArgs } from 'node:util'
import { BaseError, ContractFunctionRevertedError, isAddress, zeroAddress } from 'viem'
import { connect } from './clients'
import { deployContracts, DEFAULT_KMS_VERSION, DEFAULT_POLICY_TIMELOCK_SECONDS, DEFAULT_RETIRE_GRACE_SECONDS } from './deploy'
import {
  activateRecoveryPolicy,
  cancelRecoveryPolicyProposal,
  parseCustodians,
  proposeRecoveryPolicy,
  readPolicyProposal,
  readRecoveryPolicy,
  readRecoveryState,
  setInitialRecoveryPolicy,
} from './recoveryPolicy'
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
import { readRotationStatus, retireEpoch, setAppKeyEpoch, startRotation } from './epochs'
import { acceptOwnership, readOwnership, transferOwnership } from './ownership'
import { FLAG_HELP, type FlagName, type Flags, address, bool, bytes32, hex, id, status, text } from './flags'

type Command = (flags: Flags, rpcUrl: string) => Promise<unknown>

function privateKey(flags: Flags) {
  return hex(flags, 'private-key', process.env.DEPLOYER_PRIVATE_KEY)
}

/** Connects as the owner, for the development registry's setters. */
function registryTarget(flags: Flags, rpcUrl: string) {
  return { clients: connect({ rpcUrl, privateKey: privateKey(flags) }), novaAppRegistry: address(flags, 'nova-app-registry') }
}

/** Connects as the sender, for KMSRegistry's writes. */
function kmsTarget(flags: Flags, rpcUrl: string) {
  return { clients: connect({ rpcUrl, privateKey: privateKey(flags) }), kmsRegistry: address(flags, 'kms-registry') }
}

const COMMANDS = {
  deploy: (flags, rpcUrl) =>
    deployContracts({
      rpcUrl,
      privateKey: privateKey(flags),
      kmsAppId: id(flags, 'kms-app-id', '49'),
      policyTimelockSeconds: id(flags, 'policy-timelock-seconds', String(DEFAULT_POLICY_TIMELOCK_SECONDS)),
      retireGraceSeconds: id(flags, 'retire-grace-seconds', String(DEFAULT_RETIRE_GRACE_SECONDS)),
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
  'recovery-set-initial': (flags, rpcUrl) =>
    setInitialRecoveryPolicy({
      ...kmsTarget(flags, rpcUrl),
      custodians: parseCustodians(text(flags, 'custodians')),
      threshold: id(flags, 'threshold'),
    }),
  'recovery-propose': (flags, rpcUrl) =>
    proposeRecoveryPolicy({
      ...kmsTarget(flags, rpcUrl),
      custodians: parseCustodians(text(flags, 'custodians')),
      threshold: id(flags, 'threshold'),
    }),
  'recovery-activate': (flags, rpcUrl) =>
    activateRecoveryPolicy({ ...kmsTarget(flags, rpcUrl), proposalId: id(flags, 'proposal-id') }),
  'recovery-cancel': (flags, rpcUrl) =>
    cancelRecoveryPolicyProposal({ ...kmsTarget(flags, rpcUrl), proposalId: id(flags, 'proposal-id') }),
  'recovery-show': (flags, rpcUrl) => {
    const kmsRegistry = address(flags, 'kms-registry')
    if (flags['proposal-id'] !== undefined) return readPolicyProposal({ rpcUrl, kmsRegistry, proposalId: id(flags, 'proposal-id') })
    if (flags['policy-id'] !== undefined) return readRecoveryPolicy({ rpcUrl, kmsRegistry, policyId: id(flags, 'policy-id') })
    return readRecoveryState({ rpcUrl, kmsRegistry })
  },
  'rotation-start': (flags, rpcUrl) => startRotation(kmsTarget(flags, rpcUrl)),
  'rotation-status': (flags, rpcUrl) => readRotationStatus({ rpcUrl, kmsRegistry: address(flags, 'kms-registry') }),
  'epoch-retire': (flags, rpcUrl) =>
    retireEpoch({ ...kmsTarget(flags, rpcUrl), rpcUrl, epoch: id(flags, 'epoch'), force: bool(flags, 'force', 'false') }),
  'app-epoch-set': (flags, rpcUrl) =>
    setAppKeyEpoch({ ...kmsTarget(flags, rpcUrl), appId: id(flags, 'app-id'), epoch: id(flags, 'epoch') }),
  'ownership-transfer': (flags, rpcUrl) => transferOwnership({ ...kmsTarget(flags, rpcUrl), newOwner: address(flags, 'to') }),
  'ownership-accept': (flags, rpcUrl) => acceptOwnership(kmsTarget(flags, rpcUrl)),
  'ownership-status': (flags, rpcUrl) => readOwnership({ rpcUrl, kmsRegistry: address(flags, 'kms-registry') }),
} satisfies Record<string, Command>

type CommandName = keyof typeof COMMANDS

const REQUIRED = 'required'
const SENDER = 'default: the sender'

/** What each command does, and its own flags: `required`, or the default it falls back to. */
const COMMAND_HELP: Record<CommandName, { summary: string; flags: Partial<Record<FlagName, string>> }> = {
  deploy: {
    summary: 'Deploys KMSRegistry and calls setKmsAppId. Without --nova-app-registry (a dev chain) it also deploys the development NovaAppRegistry, creates the KMS app with KMSRegistry as its dappContract, and enrolls its first version.',
    flags: {
      'kms-app-id': 'default 49',
      'policy-timelock-seconds': `default ${DEFAULT_POLICY_TIMELOCK_SECONDS} (7 days); at least 1`,
      'retire-grace-seconds': `default ${DEFAULT_RETIRE_GRACE_SECONDS} (7 days); at least 1`,
      'nova-app-registry': 'omitted: deploy the development registry',
      'version-id': `default ${DEFAULT_KMS_VERSION.versionId}; dev registry only`,
      'version-name': `default ${DEFAULT_KMS_VERSION.versionName}; dev registry only`,
      'code-measurement': 'default the dev measurement (PCRs zero); dev registry only',
      'image-uri': 'default ""; dev registry only',
    },
  },
  'register-app': {
    summary: 'Creates an app in the development NovaAppRegistry (owner only).',
    flags: { 'nova-app-registry': REQUIRED, 'app-id': REQUIRED, 'app-owner': SENDER, 'dapp-contract': 'default: none (the zero address)', 'tee-arch': 'default nitro', 'metadata-uri': 'default ""', 'app-wallet': 'default: the zero address' },
  },
  'enroll-version': {
    summary: "Enrolls a version of an app (status ENROLLED): the code measurement its instances' attestations must match.",
    flags: { 'nova-app-registry': REQUIRED, 'app-id': REQUIRED, 'version-id': REQUIRED, 'version-name': 'default ""', 'code-measurement': 'default the dev measurement (PCRs zero)', 'image-uri': 'default ""' },
  },
  'register-instance': {
    summary: "Registers an ACTIVE instance of an app version with its TEE wallet, teePubkey and URL; prints its instanceId. For the KMS app, the registry's callback makes the wallet a KMSRegistry operator.",
    flags: { 'nova-app-registry': REQUIRED, 'app-id': REQUIRED, 'version-id': REQUIRED, 'tee-wallet': REQUIRED, operator: SENDER, 'instance-url': 'default ""', 'tee-pubkey': 'default 0x: none', 'zk-verified': 'default true' },
  },
  'set-instance-status': {
    summary: 'Sets an instance ACTIVE, STOPPED or FAILED (a STOPPED KMS node leaves the peer cache).',
    flags: { 'nova-app-registry': REQUIRED, 'instance-id': REQUIRED, status: 'required: ACTIVE|STOPPED|FAILED' },
  },
  'set-version-status': {
    summary: 'Sets a version ENROLLED, DEPRECATED or REVOKED.',
    flags: { 'nova-app-registry': REQUIRED, 'app-id': REQUIRED, 'version-id': REQUIRED, status: 'required: ENROLLED|DEPRECATED|REVOKED' },
  },
  'set-app-status': {
    summary: 'Sets an app ACTIVE, INACTIVE or REVOKED.',
    flags: { 'nova-app-registry': REQUIRED, 'app-id': REQUIRED, status: 'required: ACTIVE|INACTIVE|REVOKED' },
  },
  'set-zk-verified': {
    summary: "Sets an instance's zkVerified flag.",
    flags: { 'nova-app-registry': REQUIRED, 'instance-id': REQUIRED, 'zk-verified': REQUIRED },
  },
  'reset-master-secret-hash': {
    summary: "Puts KMSRegistry's masterSecretHash back to zero (owner only); the nodes re-commit the secret they hold.",
    flags: { 'kms-registry': REQUIRED },
  },
  status: {
    summary: 'Reads KMSRegistry and the KMS app in the NovaAppRegistry it points at (no key needed).',
    flags: { 'kms-registry': REQUIRED },
  },
  'recovery-set-initial': {
    summary: 'Sets the first recovery policy (owner only, once). It is public before any backup exists: apps should check it.',
    flags: { 'kms-registry': REQUIRED, custodians: REQUIRED, threshold: REQUIRED },
  },
  'recovery-propose': {
    summary: "Proposes the next recovery policy (owner only, one pending at a time); prints proposalId and executableAt. It takes effect when a threshold of the current custodians approve, or at executableAt unless a threshold vetoes.",
    flags: { 'kms-registry': REQUIRED, custodians: REQUIRED, threshold: REQUIRED },
  },
  'recovery-activate': {
    summary: 'Activates a pending proposal whose timelock has expired (anyone).',
    flags: { 'kms-registry': REQUIRED, 'proposal-id': REQUIRED },
  },
  'recovery-cancel': {
    summary: 'Withdraws a pending proposal (owner only).',
    flags: { 'kms-registry': REQUIRED, 'proposal-id': REQUIRED },
  },
  'recovery-show': {
    summary: 'Reads the active recovery policy, the timelock and the pending proposal; or one policy, or one proposal (no key needed).',
    flags: { 'kms-registry': REQUIRED, 'policy-id': 'default: the active one', 'proposal-id': 'default: the pending one' },
  },
  'rotation-start': {
    summary: "Opens the next key epoch (owner only; PROTOCOL §7.7); prints it. The current epoch must be committed and the one before it retired. The nodes then commit a fresh secret, keep serving on the old epoch until they hold the new one, re-encrypt their stores, and report.",
    flags: { 'kms-registry': REQUIRED },
  },
  'rotation-status': {
    summary: 'Reads, at one block, the current epoch, each live epoch (hash, committed, retired, startedAt), when --force becomes possible and the grace left, and every operator with the epoch it last reported (no key needed).',
    flags: { 'kms-registry': REQUIRED },
  },
  'epoch-retire': {
    summary: 'Retires the previous epoch (owner only): the nodes then wipe its secret. Without --force every operator must have reported the current epoch; the reports are read first and the missing operators named, with nothing sent. --force needs RETIRE_GRACE_SECONDS since the current epoch started.',
    flags: { 'kms-registry': REQUIRED, epoch: 'required: the current epoch minus one', force: 'default false' },
  },
  'app-epoch-set': {
    summary: "Moves an app to a new key epoch, which changes its derived keys (PROTOCOL §5.2 v2). Signed by the app's owner in NovaAppRegistry (--private-key); the epoch must grow.",
    flags: { 'kms-registry': REQUIRED, 'app-id': REQUIRED, epoch: 'required: above the current one, at most 2^32 - 1' },
  },
  'ownership-transfer': {
    summary: "Step 1 of an ownership transfer (owner only): nominates --to as KMSRegistry's next owner, replacing any earlier nomination; the zero address cancels it. The current owner keeps every right until the nominee accepts.",
    flags: { 'kms-registry': REQUIRED, to: REQUIRED },
  },
  'ownership-accept': {
    summary: 'Step 2: the nominee (--private-key) takes ownership of KMSRegistry. Any other sender is refused (NotPendingOwner).',
    flags: { 'kms-registry': REQUIRED },
  },
  'ownership-status': {
    summary: "Reads KMSRegistry's owner and pending owner (no key needed).",
    flags: { 'kms-registry': REQUIRED },
  },
}

const CLI = 'npx tsx contracts/deploy/cli.ts'
const WIDTH = 96
const COMMON_FLAGS: Partial<Record<FlagName, string>> = { 'rpc-url': 'default http://127.0.0.1:8545', 'private-key': '', help: '' }

/** Breaks `text` into lines of at most WIDTH columns after `first`; later lines are indented to `indent`. */
function wrap(text: string, indent: number, first = ''): string[] {
  const lines: string[] = []
  let line = first
  for (const [index, word] of text.split(' ').entries()) {
    if (index > 0 && line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = `${' '.repeat(indent)}${word}`
    } else line = index === 0 ? `${line}${word}` : `${line} ${word}`
  }
  lines.push(line)
  return lines
}

function flagLines(flags: Partial<Record<FlagName, string>>): string[] {
  const entries = Object.entries(flags) as [FlagName, string][]
  const left = entries.map(([name]) => `--${name}${name === 'help' ? ', -h' : ''} ${FLAG_HELP[name].value}`.trimEnd())
  const width = Math.max(...left.map((text) => text.length))
  return entries.flatMap(([name, note], index) => wrap(`${FLAG_HELP[name].meaning}${note === '' ? '' : `; ${note}`}`, width + 4, `  ${left[index]!.padEnd(width)}  `))
}

/** `--flag <value>` for required flags, `[--flag]` for the others: the one-line form of a command. */
function synopsis(name: CommandName): string {
  const flags = Object.entries(COMMAND_HELP[name].flags) as [FlagName, string][]
  return flags.map(([flag, note]) => (note.startsWith(REQUIRED) ? `--${flag} ${FLAG_HELP[flag].value}` : `[--${flag}]`)).join(' ')
}

function usage(): string {
  const names = Object.keys(COMMAND_HELP) as CommandName[]
  const width = Math.max(...names.map((name) => name.length))
  return [
    `usage: ${CLI} <command> [--flags]`,
    `       ${CLI} <command> --help    (the command's flags, what they mean, their defaults)`,
    '',
    'Deploy and ops commands for KMSRegistry and the development NovaAppRegistry. Run',
    '`cd contracts && npx forge build` first. Each command prints one JSON object on stdout;',
    'a failure prints {"error": …} on stderr and exits with status 1.',
    '',
    'commands:',
    ...names.flatMap((name) => wrap(synopsis(name), width + 4, `  ${name.padEnd(width)}  `)),
    '',
    'common flags:',
    ...flagLines(COMMON_FLAGS),
  ].join('\n')
}

function commandUsage(name: CommandName): string {
  return [
    `usage: ${CLI} ${name} [--flags]`,
    '',
    ...wrap(COMMAND_HELP[name].summary, 0),
    '',
    ...flagLines(COMMAND_HELP[name].flags),
    '',
    'common flags:',
    ...flagLines(COMMON_FLAGS),
  ].join('\n')
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
      options: {
        ...Object.fromEntries(Object.keys(FLAG_HELP).map((name) => [name, { type: 'string' }] as const)),
        help: { type: 'boolean', short: 'h' },
        force: { type: 'boolean' },
      },
    })
    const name = positionals.length === 1 ? positionals[0]! : ''
    const known = Object.hasOwn(COMMANDS, name) ? (name as CommandName) : undefined
    if (values.help === true && (known !== undefined || positionals.length === 0)) {
      process.stdout.write(`${known === undefined ? usage() : commandUsage(known)}\n`)
      return
    }
    if (known === undefined) {
      process.stderr.write(`${usage()}\n`)
      throw new Error(`unknown command ${JSON.stringify(positionals.join(' '))}`)
    }
    // `--force` takes no value; the commands read it as the string flag 'true'.
    const flags: Flags = { ...(values as Flags), force: values.force === true ? 'true' : undefined }
    const result = await COMMANDS[known](flags, text(flags, 'rpc-url', 'http://127.0.0.1:8545'))
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } catch (error) {
    process.stderr.write(`${JSON.stringify({ error: describe(error) })}\n`)
    process.exitCode = 1
  }
}

await main()
