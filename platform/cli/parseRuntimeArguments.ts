/**
 * The command line of `node dist/nova-runtime.mjs` (a contract with the devnet launcher,
 * which spawns it exactly so):
 * `--devnet <path> --app-id <N> [--port <P>] [--host <H>] [--binding v1|v2]`, or `--help`;
 * tests add `[--pcrs <hex0>,<hex1>,<hex2>]`.
 */
import { PCR_BYTES, parsePcrValue, type InstancePcrs } from '../config/instancePcrs'

export const DEFAULT_PORT = 18000
export const DEFAULT_HOST = '127.0.0.1'

export const USAGE = `Usage: node dist/nova-runtime.mjs --devnet <devnet.json> --app-id <N> [--port <P>] [--host <H>] [--binding v1|v2] [--pcrs <hex0>,<hex1>,<hex2>]

A local Nova runtime for one app instance: the app API (/v1/*) on <H>:<P>, backed by the
KMS cluster that <devnet.json> describes, and the Aux API on <H>:<P+1>.

  --devnet <path>  the devnet description (rpcUrl, kmsAppId, contracts, apps[])
  --app-id <N>     the entry of apps[] whose appId is N
  --port <P>       the app API port (default ${DEFAULT_PORT}); the Aux API listens on P+1
  --host <H>       the listen address (default ${DEFAULT_HOST})
  --binding v1|v2  request/response binding towards the KMS (default v1, as the real
                   runtime speaks; v2 binds every request and answer, PROTOCOL §3.5)
  --pcrs <hex0>,<hex1>,<hex2>
                   PCR0, PCR1 and PCR2 of every attestation document, ${PCR_BYTES} bytes of
                   hex each (default all zero, which verifiers read as debug mode); wins
                   over the app's "pcrs" in <devnet.json>. Documents stay signed by the dev
                   root, so only a dev-root verifier accepts them
  --help           print this text
`

export type RuntimeArguments =
  | { command: 'help' }
  | { command: 'run'; devnetPath: string; appId: number; port: number; host: string; bindingVersion: 1 | 2; pcrs: InstancePcrs | undefined }

/** A command line that does not follow the usage; the message says what is wrong. */
export class RuntimeArgumentsError extends Error {
  override readonly name = 'RuntimeArgumentsError'
}

function integer(text: string | undefined, flag: string, min: number, max: number): number {
  const value = text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new RuntimeArgumentsError(`${flag} expects an integer in ${min}..${max}`)
  return value
}

/** `--pcrs`: exactly three values, so that none of PCR0..2 is left zero (debug mode). */
function pcrList(text: string): InstancePcrs {
  const parts = text.split(',')
  if (parts.length !== 3) throw new RuntimeArgumentsError(`--pcrs expects three comma-separated values (PCR0,PCR1,PCR2), got ${parts.length}`)
  const pcrs = new Map<number, Uint8Array>()
  parts.forEach((part, index) => {
    const bytes = parsePcrValue(part)
    if (bytes === undefined) throw new RuntimeArgumentsError(`--pcrs: PCR${index} must be ${PCR_BYTES} bytes of hex`)
    pcrs.set(index, bytes)
  })
  return pcrs
}

/** @throws RuntimeArgumentsError for an unknown flag, a missing value or a missing required flag. */
export function parseRuntimeArguments(argv: readonly string[]): RuntimeArguments {
  if (argv.includes('--help') || argv.includes('-h')) return { command: 'help' }
  const values = new Map<string, string>()
  for (let index = 0; index < argv.length; index += 2) {
    const flag = argv[index]!
    if (!['--devnet', '--app-id', '--port', '--host', '--binding', '--pcrs'].includes(flag)) throw new RuntimeArgumentsError(`unknown argument ${flag}`)
    const value = argv[index + 1]
    if (value === undefined || value.startsWith('--')) throw new RuntimeArgumentsError(`${flag} needs a value`)
    values.set(flag, value)
  }
  const devnetPath = values.get('--devnet')
  if (devnetPath === undefined) throw new RuntimeArgumentsError('--devnet is required')
  if (!values.has('--app-id')) throw new RuntimeArgumentsError('--app-id is required')
  const binding = values.get('--binding') ?? 'v1'
  if (binding !== 'v1' && binding !== 'v2') throw new RuntimeArgumentsError('--binding expects v1 or v2')
  return {
    command: 'run',
    devnetPath,
    appId: integer(values.get('--app-id'), '--app-id', 0, Number.MAX_SAFE_INTEGER),
    // The Aux API takes port + 1, so the primary port stops one short of 65535.
    port: values.has('--port') ? integer(values.get('--port'), '--port', 1, 65534) : DEFAULT_PORT,
    host: values.get('--host') ?? DEFAULT_HOST,
    bindingVersion: binding === 'v2' ? 2 : 1,
    pcrs: values.has('--pcrs') ? pcrList(values.get('--pcrs')!) : undefined,
  }
}
