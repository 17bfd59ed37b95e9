/**
 * `nova-kms custodian <keygen|show-key|status|recover|approve|veto>` (issue 15). Exit status:
 * 0 done, 1 refused (with the reason on stderr), 2 usage.
 */
import { constants } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { loadTrustedRoot, parseCertificate } from '../../core/attestation'
import { bytesToHex, parseWallet, type Wallet } from '../../core/encoding'
import { systemClock, webCryptoRandom } from '../runtime'
import { checkNode, Refusal } from './checkNode'
import { decryptKeyFile, encryptKeyFile, generateCustodianKeys, KEY_FILE_MAX_BYTES, KeyFileError, parseKeyFileHeader } from './keyFile'
import { releaseShare } from './releaseShare'
import { formatRecoveryStatus, readRecoveryStatus } from './status'
import { voteOnProposal } from './vote'
import { PASSPHRASE_ENV, PassphraseError, readPassphrase } from './passphrase'

export class CustodianUsageError extends Error {}

export const CUSTODIAN_USAGE = `Usage: nova-kms custodian <command> [options]

A recovery custodian's tool (README "Recovery"). Commands:
  keygen --out <file>         write a new key file (P-384 for shares, secp256k1 for approvals)
  show-key --key <file>       print the public key and approver address to register
  status --rpc <url> --kms-registry <addr> [--key <file>] [--json]
  recover --node <url> --rpc <url> --kms-registry <addr> --key <file>
          [--app-registry <addr>] [--root <pem>] [--json]
  approve <proposalId> --key <file> --rpc <url> --kms-registry <addr>
  veto <proposalId> --key <file> --rpc <url> --kms-registry <addr>

The passphrase comes from --passphrase-file <file> (first line), else the environment
variable ${PASSPHRASE_ENV}, else a prompt on the terminal.
--root trusts a dev attestation root (a devnet's .devnet/dev-root.pem) instead of AWS's,
and then accepts dev documents (zero PCRs): never use it for a real cluster.

Exit status: 0 done, 1 refused (the reason is printed), 2 usage error.`

function out(line: string): void {
  process.stdout.write(`${line}\n`)
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw new CustodianUsageError(`--${flag} is required`)
  return value
}

function address(value: string | undefined, flag: string): Wallet {
  const wallet = parseWallet(required(value, flag))
  if (wallet === undefined) throw new CustodianUsageError(`--${flag} must be an address`)
  return wallet
}

async function readKeyText(path: string): Promise<string> {
  try {
    const handle = await open(path, 'r')
    try {
      const { size } = await handle.stat()
      if (size > KEY_FILE_MAX_BYTES) throw new KeyFileError(`${path} is not a custodian key file (too large)`)
      return await handle.readFile('utf8')
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (error instanceof KeyFileError) throw error
    throw new CustodianUsageError(`cannot read ${path}: ${error instanceof Error && 'code' in error ? String(error.code) : 'error'}`)
  }
}

async function readRoot(path: string | undefined): Promise<Uint8Array | undefined> {
  if (path === undefined) return undefined
  const bytes = new Uint8Array(await readFile(path).catch(() => {
    throw new CustodianUsageError(`cannot read --root ${path}`)
  }))
  const text = new TextDecoder().decode(bytes)
  try {
    if (text.includes('-----BEGIN')) return loadTrustedRoot(text)
    parseCertificate(bytes)
    return bytes
  } catch {
    throw new CustodianUsageError('--root must be a PEM or DER P-384 certificate')
  }
}

async function keygen(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], strict: true, options: { out: { type: 'string' }, 'passphrase-file': { type: 'string' }, json: { type: 'boolean', default: false } } })
  const path = required(values.out, 'out')
  const passphrase = await readPassphrase({ file: values['passphrase-file'], confirm: true })
  const keys = await generateCustodianKeys(webCryptoRandom)
  const text = await encryptKeyFile({ keys, passphrase, random: webCryptoRandom })
  // O_EXCL: never overwrite (a lost key file is a lost share); 0600: the owner alone reads it.
  let handle
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'error'
    throw new CustodianUsageError(code === 'EEXIST' ? `${path} exists: keygen never overwrites a key file` : `cannot create ${path}: ${code}`)
  }
  try {
    await handle.writeFile(text)
  } finally {
    await handle.close()
  }
  printKey(bytesToHex(keys.sealingPublicKeyDer), keys.approver, values.json, `wrote ${path} (mode 0600)`)
  return 0
}

function printKey(sealingKeyHex: string, approver: Wallet, json: boolean, note?: string): void {
  if (json) return out(JSON.stringify({ sealingKeyDer: `0x${sealingKeyHex}`, approver }))
  if (note !== undefined) out(note)
  out(`sealing key (P-384 SPKI DER): 0x${sealingKeyHex}`)
  out(`approver address:             ${approver}`)
}

async function showKey(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], strict: true, options: { key: { type: 'string' }, json: { type: 'boolean', default: false } } })
  const { sealingPublicKeyDer, approver } = parseKeyFileHeader(await readKeyText(required(values.key, 'key')))
  printKey(bytesToHex(sealingPublicKeyDer), approver, values.json)
  return 0
}

async function recover(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      node: { type: 'string' },
      rpc: { type: 'string' },
      'kms-registry': { type: 'string' },
      key: { type: 'string' },
      'app-registry': { type: 'string' },
      root: { type: 'string' },
      'passphrase-file': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const nodeUrl = required(values.node, 'node')
  if (!/^https?:\/\//.test(nodeUrl)) throw new CustodianUsageError('--node must be an http(s) URL')
  const rpcUrl = required(values.rpc, 'rpc')
  const kmsRegistry = address(values['kms-registry'], 'kms-registry')
  const keyText = await readKeyText(required(values.key, 'key'))
  parseKeyFileHeader(keyText)
  const expectedAppRegistry = values['app-registry'] === undefined ? undefined : address(values['app-registry'], 'app-registry')
  const trustedRoot = await readRoot(values.root)
  // Steps 1–3 before the passphrase is even asked for: the share stays sealed until the node checks out.
  const checked = await checkNode({ nodeUrl, rpcUrl, kmsRegistry, expectedAppRegistry, trustedRoot, random: webCryptoRandom, nowMs: () => systemClock.nowMs() })
  if (!values.json) out(`node ${checked.wallet}: attestation verified; ACTIVE, zkVerified instance ${checked.instance.instanceId} of KMS app ${checked.kmsAppId} on an ENROLLED version`)
  const keys = await decryptKeyFile(keyText, await readPassphrase({ file: values['passphrase-file'], confirm: false }))
  const receipt = await releaseShare({ nodeUrl, rpcUrl, kmsRegistry, node: checked, keys, random: webCryptoRandom })
  if (values.json) {
    out(JSON.stringify({ node: checked.wallet, custodianIndex: receipt.custodianIndex, policyId: receipt.policyId, received: receipt.received, threshold: receipt.threshold, custodiansAnswered: receipt.custodiansAnswered, state: receipt.state }))
  } else {
    out(`share ${receipt.custodianIndex + 1} of policy ${receipt.policyId} delivered: ${receipt.received}/${receipt.threshold} received, custodians answered [${receipt.custodiansAnswered.map((i) => i + 1).join(', ')}], state ${receipt.state}`)
  }
  return 0
}

async function status(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: { rpc: { type: 'string' }, 'kms-registry': { type: 'string' }, key: { type: 'string' }, 'passphrase-file': { type: 'string' }, json: { type: 'boolean', default: false } },
  })
  const rpcUrl = required(values.rpc, 'rpc')
  const kmsRegistry = address(values['kms-registry'], 'kms-registry')
  const keyText = values.key === undefined ? undefined : await readKeyText(values.key)
  const header = keyText === undefined ? undefined : parseKeyFileHeader(keyText)
  const result = await readRecoveryStatus({
    rpcUrl,
    kmsRegistry,
    ...(header === undefined || keyText === undefined
      ? {}
      : { sealingPublicKeyDer: header.sealingPublicKeyDer, keys: async () => decryptKeyFile(keyText, await readPassphrase({ file: values['passphrase-file'], confirm: false })) }),
  })
  out(values.json ? JSON.stringify(result, null, 2) : formatRecoveryStatus(result))
  return 0
}

async function vote(which: 'approve' | 'veto', argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: { rpc: { type: 'string' }, 'kms-registry': { type: 'string' }, key: { type: 'string' }, 'passphrase-file': { type: 'string' } },
  })
  if (positionals.length !== 1 || !/^[1-9]\d{0,30}$/.test(positionals[0]!)) throw new CustodianUsageError('expected one <proposalId>, a positive integer')
  const rpcUrl = required(values.rpc, 'rpc')
  const kmsRegistry = address(values['kms-registry'], 'kms-registry')
  const keyText = await readKeyText(required(values.key, 'key'))
  parseKeyFileHeader(keyText)
  const keys = await decryptKeyFile(keyText, await readPassphrase({ file: values['passphrase-file'], confirm: false }))
  const hash = await voteOnProposal({ rpcUrl, kmsRegistry, approverKey: keys.approverKey, proposalId: BigInt(positionals[0]!), vote: which })
  out(`${which === 'approve' ? 'approved' : 'vetoed'} proposal ${positionals[0]} as ${keys.approver}: ${hash}`)
  return 0
}

/** Runs one custodian command; returns the exit status. */
export async function runCustodian(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (rest.includes('--help') || rest.includes('-h') || command === '--help' || command === '-h') {
      out(CUSTODIAN_USAGE)
      return 0
    }
    switch (command) {
      case 'keygen':
        return await keygen(rest)
      case 'show-key':
        return await showKey(rest)
      case 'recover':
        return await recover(rest)
      case 'status':
        return await status(rest)
      case 'approve':
      case 'veto':
        return await vote(command, rest)
      default:
        throw new CustodianUsageError(command === undefined ? 'expected a custodian command' : `unknown custodian command ${JSON.stringify(command)}`)
    }
  } catch (error) {
    if (error instanceof Refusal || error instanceof KeyFileError || error instanceof PassphraseError) {
      process.stderr.write(`nova-kms custodian: refused: ${error.message}\n`)
      return 1
    }
    const code = error instanceof Error && 'code' in error ? String(error.code) : ''
    if (error instanceof CustodianUsageError || code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`nova-kms custodian: ${(error as Error).message}\n${CUSTODIAN_USAGE}\n`)
      return 2
    }
    throw error
  }
}
