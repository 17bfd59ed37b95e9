/**
 * `nova-kms cluster` (issue 19): the cluster at a glance, from the chain and from every
 * node's public routes. It reads KMSRegistry and NovaAppRegistry (the authority), probes each
 * ACTIVE instance with bounded requests, and prints one table, or JSON with `--json`.
 *
 * Exit status: 0 when nothing needs attention, 1 when something does, 2 on a usage error or
 * when the chain cannot be read (no verdict without the facts to judge by).
 */
import { parseArgs } from 'node:util'
import { parseWallet } from '../../core/encoding'
import { assessCluster, type ClusterReport } from './assessCluster'
import { probeNode, type NodeProbe } from './probeNode'
import { readRegistry, RegistryReadError } from './readRegistry'
import { renderTable } from './renderTable'

export const CLUSTER_USAGE = `Usage: nova-kms cluster --rpc-url <url> --kms-registry <address> [--json] [--timeout-ms <ms>]

Reads the cluster from KMSRegistry and NovaAppRegistry, probes every ACTIVE KMS instance
(/status, /metrics, /kms/ca) and prints, per node: URL and wallet, version and its status,
readiness and reason, whether each live epoch's secret matches the chain's hash, peers
seen, delta-push success since boot, operator or not, and the CA fingerprint, which must
be the same on every node serving an epoch.

Options:
  --rpc-url <url>         the chain's JSON-RPC endpoint
  --kms-registry <addr>   the KMSRegistry contract
  --json                  print the report as one JSON object
  --timeout-ms <ms>       per request, chain and nodes (default 5000)
  -h, --help              show this help

Exit status: 0 nothing needs attention, 1 something does, 2 usage error or unreadable chain.`

const DEFAULT_TIMEOUT_MS = 5000
/** Nodes probed at once: enough to be quick, few enough that a large cluster is not a burst. */
const PROBE_CONCURRENCY = 16

class ClusterUsageError extends Error {}

async function probeAll(urls: readonly string[], timeoutMs: number): Promise<NodeProbe[]> {
  const probes: NodeProbe[] = new Array(urls.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < urls.length) {
      const index = next++
      probes[index] = await probeNode(urls[index]!, timeoutMs)
    }
  }
  await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, urls.length) }, worker))
  return probes
}

/** The report, for `npm start` and for tests; throws RegistryReadError when the chain cannot be read. */
export async function inspectCluster(params: { rpcUrl: string; kmsRegistry: string; timeoutMs?: number }): Promise<ClusterReport> {
  const kmsRegistry = parseWallet(params.kmsRegistry)
  if (kmsRegistry === undefined) throw new ClusterUsageError(`--kms-registry is not an address: ${JSON.stringify(params.kmsRegistry)}`)
  const timeoutMs = params.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const registry = await readRegistry({ rpcUrl: params.rpcUrl, kmsRegistry, timeoutMs })
  return assessCluster(registry, await probeAll(registry.instances.map((instance) => instance.url), timeoutMs))
}

export { renderTable }

export async function runCluster(argv: readonly string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        'rpc-url': { type: 'string' },
        'kms-registry': { type: 'string' },
        json: { type: 'boolean', default: false },
        'timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    if (values.help) {
      process.stdout.write(`${CLUSTER_USAGE}\n`)
      return 0
    }
    const rpcUrl = values['rpc-url']
    const kmsRegistry = values['kms-registry']
    if (rpcUrl === undefined || kmsRegistry === undefined) throw new ClusterUsageError('--rpc-url and --kms-registry are required')
    const timeoutText = values['timeout-ms'] ?? String(DEFAULT_TIMEOUT_MS)
    const timeoutMs = Number(timeoutText)
    if (!/^[0-9]+$/.test(timeoutText) || timeoutMs < 100 || timeoutMs > 120_000) throw new ClusterUsageError('--timeout-ms must be an integer from 100 to 120000')
    const report = await inspectCluster({ rpcUrl, kmsRegistry, timeoutMs })
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report))
    return report.healthy ? 0 : 1
  } catch (error) {
    if (error instanceof RegistryReadError) {
      process.stderr.write(`nova-kms cluster: ${error.message}\n`)
      return 2
    }
    const code = error instanceof Error && 'code' in error ? String(error.code) : ''
    if (error instanceof ClusterUsageError || code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`nova-kms cluster: ${(error as Error).message}\n${CLUSTER_USAGE}\n`)
      return 2
    }
    throw error
  }
}
