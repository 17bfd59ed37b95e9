/**
 * The operator CLI (`nova-kms`, built to dist/cli.mjs). `nova-kms custodian …` is the
 * recovery custodian's tool (bundle/custodian/command.ts), `nova-kms cluster …` the cluster
 * console (bundle/cluster/command.ts); the other command:
 *
 *   nova-kms verify-attestation <file|-> [--at <ISO time | epoch ms>] [--json]
 *                               [--allow-debug] [--nonce <hex|base64>] [--root <pem|der file>]
 *
 * It prints what the document claims (decoded without trust, so a rejected document can
 * still be inspected) and the verdict of `verifyNitroAttestation`. The input may be raw
 * CBOR, base64 (with or without line breaks) or hex, named by ATTESTATION.md §1's fixed
 * rule. Exit status: 0 valid, 1 rejected, 2 usage error.
 */
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import {
  ATTESTATION_ERROR_DESCRIPTIONS,
  ATTESTATION_TEXT_MAX_BYTES,
  decodeAttestationText,
  decodeNitroAttestationUnverified,
  describeBytes,
  detectAttestationFormat,
  isAttestationError,
  loadTrustedRoot,
  parseCertificate,
  summarizeCertificate,
  verifyNitroAttestation,
  type AttestationErrorCode,
  type CertificateSummary,
  type NitroAttestation,
  type VerifyNitroAttestationOptions,
} from '../core/attestation'
import { bytesToHex, parseBase64Text, parseHex } from '../core/encoding'
import { runCluster } from './cluster/command'
import { runCustodian } from './custodian/command'

const USAGE = `Usage: nova-kms verify-attestation <file|-> [options]

Verifies an AWS Nitro Enclaves attestation document (raw CBOR, base64 or hex) against the
pinned AWS Nitro Enclaves Root-G1 and prints what it contains.

Options:
  --at <time>      verification time: ISO 8601 or epoch milliseconds (default: now)
  --allow-debug    accept debug-mode documents (PCR0-2 zero)
  --nonce <value>  require this nonce (hex, or base64 when not only hex digits)
  --root <file>    trust this root (PEM or DER) instead of AWS: dev documents only
  --json           print one JSON object
  -h, --help       show this help

Exit status: 0 valid, 1 rejected, 2 usage error.

Other commands: nova-kms cluster --help (the cluster console), nova-kms custodian --help.`

class UsageError extends Error {}

const ASCII_WHITESPACE = /[\t\n\f\r ]/g
const DISPLAY_BYTES = 96

// ---------------------------------------------------------------------------------------
// Input

/** Runs a file read, turning a file-system failure (ENOENT, EISDIR, …) into a usage error. */
async function reading<T>(path: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('E')) {
      throw new UsageError(`cannot read ${path}: ${error.code}`)
    }
    throw error
  }
}

/** Reads at most `limit + 1` bytes, so an oversized input is detected without reading it all. */
async function readBounded(path: string, limit: number): Promise<Uint8Array> {
  const stream = path === '-' ? process.stdin : createReadStream(path, { start: 0, end: limit })
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    chunks.push(chunk)
    total += chunk.length
    if (total > limit) break
  }
  const out = new Uint8Array(Math.min(total, limit + 1))
  let offset = 0
  for (const chunk of chunks) {
    const part = chunk.subarray(0, out.length - offset)
    out.set(part, offset)
    offset += part.length
  }
  return out
}

function latin1(bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes) text += String.fromCharCode(byte)
  return text
}

/** ATTESTATION.md §1's fixed rule: `84`/`d2` first is CBOR; only hex digits is hex; else base64. */
function decodeInput(input: Uint8Array): { document: Uint8Array; format: string } {
  const format = detectAttestationFormat(input)
  if (format === 'cbor') return { document: input, format: 'raw CBOR' }
  // The rule removes whitespace before it looks for hex digits, so the decoder gets the same.
  const text = format === 'hex' ? latin1(input).replace(ASCII_WHITESPACE, '') : latin1(input)
  return { document: decodeAttestationText(text, format), format }
}

function parseAt(value: string | undefined): number {
  if (value === undefined) return Date.now()
  const at = /^\d+$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN
  if (!Number.isSafeInteger(at)) throw new UsageError('--at must be an ISO 8601 time or epoch milliseconds')
  return at
}

function parseNonce(value: string | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined
  const nonce = detectAttestationFormat(value) === 'hex' ? parseHex(value) : parseBase64Text(value)
  if (nonce === undefined || nonce.length > 1024) throw new UsageError('--nonce must be hex or base64 of at most 1024 bytes')
  return nonce
}

async function readRoot(path: string | undefined): Promise<Uint8Array | undefined> {
  if (path === undefined) return undefined
  const bytes = new Uint8Array(await reading(path, () => readFile(path)))
  const text = latin1(bytes)
  try {
    if (text.includes('-----BEGIN')) return loadTrustedRoot(text)
    parseCertificate(bytes)
    return bytes
  } catch {
    // loadTrustedRoot names the environment variable; the CLI names its own flag instead.
    throw new UsageError('--root must be a PEM or DER P-384 certificate')
  }
}

// ---------------------------------------------------------------------------------------
// Display (the certificate and byte views are core/attestation/describe.ts, shared with web/verify)

function documentJson(attestation: NitroAttestation): Record<string, unknown> {
  return {
    moduleId: attestation.moduleId,
    timestamp: attestation.timestamp,
    timestampIso: new Date(attestation.timestamp).toISOString(),
    digest: attestation.digest,
    pcrs: Object.fromEntries([...attestation.pcrs].map(([index, pcr]) => [String(index), bytesToHex(pcr)])),
    certificate: summarizeCertificate(attestation.certificate),
    cabundle: attestation.cabundle.map(summarizeCertificate),
    publicKey: describeBytes(attestation.publicKey),
    userData: describeBytes(attestation.userData),
    nonce: describeBytes(attestation.nonce),
  }
}

function bytesLine(bytes: Uint8Array | null): string {
  const described = describeBytes(bytes)
  if (described === null) return 'null'
  if (described.utf8 !== undefined) return `${described.size} bytes, utf8 ${JSON.stringify(described.utf8)}`
  const shown = described.hex.slice(0, DISPLAY_BYTES * 2)
  return `${described.size} bytes, hex ${shown}${shown.length < described.hex.length ? '…' : ''}`
}

function certificateLine(summary: CertificateSummary | { error: AttestationErrorCode }): string {
  if ('error' in summary) return `unparseable (${summary.error})`
  return `${summary.subject}\n      valid ${summary.notBefore} .. ${summary.notAfter}`
}

function documentText(attestation: NitroAttestation, size: number, format: string): string {
  const lines = [
    `Document: ${size} bytes (${format})`,
    `  module_id    ${attestation.moduleId}`,
    `  timestamp    ${new Date(attestation.timestamp).toISOString()} (${attestation.timestamp})`,
    `  digest       ${attestation.digest}`,
    `  pcrs         ${attestation.pcrs.size}`,
    ...[...attestation.pcrs].map(([index, pcr]) => `    PCR${String(index).padEnd(3)} ${bytesToHex(pcr)}`),
    `  certificate  ${certificateLine(summarizeCertificate(attestation.certificate))}`,
    `  cabundle     ${attestation.cabundle.length} certificates, root first`,
    ...attestation.cabundle.map((der, index) => `    [${index}] ${certificateLine(summarizeCertificate(der))}`),
    `  public_key   ${bytesLine(attestation.publicKey)}`,
    `  user_data    ${bytesLine(attestation.userData)}`,
    `  nonce        ${bytesLine(attestation.nonce)}`,
  ]
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------
// Command

type Verdict = { valid: true } | { valid: false; code: AttestationErrorCode; description: string }

function rejected(error: unknown): Verdict {
  if (!isAttestationError(error)) throw error
  return { valid: false, code: error.attestationCode, description: ATTESTATION_ERROR_DESCRIPTIONS[error.attestationCode] }
}

async function verifyAttestation(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      at: { type: 'string' },
      json: { type: 'boolean', default: false },
      'allow-debug': { type: 'boolean', default: false },
      nonce: { type: 'string' },
      root: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1) throw new UsageError('expected exactly one <file|->')
  const at = parseAt(values.at)
  const expectedNonce = parseNonce(values.nonce)
  const trustedRoot = await readRoot(values.root)
  const source = positionals[0]!
  const input = await reading(source, () => readBounded(source, ATTESTATION_TEXT_MAX_BYTES))

  let decoded: { document: Uint8Array; format: string } | undefined
  let attestation: NitroAttestation | undefined
  let verdict: Verdict
  try {
    decoded = decodeInput(input)
    const options: VerifyNitroAttestationOptions = {
      at,
      allowDebugMode: values['allow-debug'],
      ...(expectedNonce === undefined ? {} : { expectedNonce }),
      ...(trustedRoot === undefined ? {} : { trustedRoot }),
    }
    await verifyNitroAttestation(decoded.document, options)
    verdict = { valid: true }
  } catch (error) {
    verdict = rejected(error)
  }
  if (decoded !== undefined) {
    try {
      attestation = decodeNitroAttestationUnverified(decoded.document)
    } catch (error) {
      if (!isAttestationError(error)) throw error // the verdict already names the failure
    }
  }

  const root = trustedRoot === undefined ? 'AWS Nitro Enclaves Root-G1 (pinned)' : 'custom --root (dev only)'
  if (values.json) {
    const output = {
      document: attestation === undefined ? null : documentJson(attestation),
      verdict: { ...verdict, at, atIso: new Date(at).toISOString(), root },
    }
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`)
  } else {
    if (attestation !== undefined && decoded !== undefined) {
      process.stdout.write(`${documentText(attestation, decoded.document.length, decoded.format)}\n`)
    }
    const when = `at ${new Date(at).toISOString()} against ${root}`
    process.stdout.write(
      verdict.valid ? `Verdict: VALID ${when}\n` : `Verdict: REJECTED ${verdict.code} (${verdict.description}) ${when}\n`,
    )
  }
  return verdict.valid ? 0 : 1
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === 'verify-attestation') return await verifyAttestation(rest)
    // The custodian's tool (issue 15) has its own usage, flags and exit statuses.
    if (command === 'custodian') return await runCustodian(rest)
    // The cluster console (issue 19), with its own usage and exit statuses.
    if (command === 'cluster') return await runCluster(rest)
    if (command === undefined || command === '--help' || command === '-h') {
      process.stdout.write(`${USAGE}\n`)
      return command === undefined ? 2 : 0
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)}`)
  } catch (error) {
    // parseArgs reports bad flags as TypeErrors with an ERR_PARSE_ARGS_* code.
    if (!(error instanceof Error)) throw error
    const code = 'code' in error ? String(error.code) : ''
    if (!(error instanceof UsageError) && !code.startsWith('ERR_PARSE_ARGS')) throw error
    process.stderr.write(`nova-kms: ${error.message}\n${USAGE}\n`)
    return 2
  }
}

process.exitCode = await main(process.argv.slice(2))
