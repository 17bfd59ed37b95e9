/**
 * What one node says of itself, from three public routes (PROTOCOL §2.1 `/status`, §2.8
 * `/metrics`, §2.7 `/kms/ca`), each read with a deadline and a byte bound. Nothing here is
 * trusted: the host answers at the node's URL. The console only compares these claims with
 * the chain and with the other nodes, and reports what disagrees.
 */
import { BoundedFetchError, fetchBounded } from '../boundedFetch'

/** `/status` is a few KiB; the cap leaves room for many epochs and custodians. */
const STATUS_MAX_BYTES = 256 * 1024
/** `/metrics` grows with routes and peers (one sync series per peer and result). */
const METRICS_MAX_BYTES = 4 * 1024 * 1024
/** `/kms/ca`: one or two PEM certificates. */
const CA_MAX_BYTES = 64 * 1024

export interface NodeClaims {
  wallet: string
  version: string
  serviceAvailable: boolean
  unavailableReason: string
  isOperator: boolean
  /** The node's peer cache: the instances it would sync with (§2.1 `cluster.total_instances`). */
  peersSeen: number
  /** Each installed secret's keccak256, by epoch (§2.1 `epochs.held`). */
  held: { epoch: number; hash: string }[]
  servingEpoch: number | null
}

export interface SyncPushes {
  ok: number
  failed: number
}

export interface NodeProbe {
  /** `/status`, or why it could not be read; without it the node is unreachable. */
  status: { claims: NodeClaims } | { error: string }
  /** Delta pushes since the node booted (`nova_kms_sync_push_total`), or why unknown. */
  syncPushes: SyncPushes | { error: string }
  /** The serving epoch's CA (`/kms/ca`); only a serving node answers it (readiness-gated). */
  ca: { fingerprint: string; epoch: number } | { error: string }
}

async function get(url: string, maxBytes: number, timeoutMs: number): Promise<{ status: number; text: string | undefined; json: unknown } | { error: string }> {
  try {
    return await fetchBounded(url, { method: 'GET', maxBytes, timeoutMs })
  } catch (error) {
    if (error instanceof BoundedFetchError) return { error: error.message }
    throw error
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The §2.1 members the console reads, checked for type: a node that answers otherwise is misbehaving. */
export function parseStatus(body: unknown): NodeClaims | undefined {
  if (!isRecord(body) || !isRecord(body['node']) || !isRecord(body['cluster'])) return undefined
  const { node, cluster } = body
  const epochs = isRecord(body['epochs']) ? body['epochs'] : {}
  const held = Array.isArray(epochs['held']) ? epochs['held'] : []
  const claims: NodeClaims = {
    wallet: typeof node['tee_wallet'] === 'string' ? node['tee_wallet'].toLowerCase() : '',
    version: typeof node['version'] === 'string' ? node['version'] : '',
    serviceAvailable: node['service_available'] === true,
    unavailableReason: typeof node['unavailable_reason'] === 'string' ? node['unavailable_reason'] : '',
    isOperator: node['is_operator'] === true,
    peersSeen: typeof cluster['total_instances'] === 'number' ? cluster['total_instances'] : 0,
    held: held.flatMap((entry) =>
      isRecord(entry) && Number.isSafeInteger(entry['epoch']) && typeof entry['hash'] === 'string' ? [{ epoch: entry['epoch'] as number, hash: entry['hash'].toLowerCase() }] : [],
    ),
    servingEpoch: Number.isSafeInteger(epochs['serving']) ? (epochs['serving'] as number) : null,
  }
  return typeof node['service_available'] === 'boolean' ? claims : undefined
}

/** Sums `nova_kms_sync_push_total` over peers, by result (Prometheus text format 0.0.4). */
export function parseSyncPushes(text: string): SyncPushes {
  const pushes: SyncPushes = { ok: 0, failed: 0 }
  for (const match of text.matchAll(/^nova_kms_sync_push_total\{[^}]*result="(ok|failed)"[^}]*\} ([0-9.e+]+)$/gm)) {
    const count = Number(match[2])
    if (Number.isFinite(count)) pushes[match[1] as keyof SyncPushes] += count
  }
  return pushes
}

export async function probeNode(url: string, timeoutMs: number): Promise<NodeProbe> {
  const base = url.replace(/\/+$/, '')
  const [status, metrics, ca] = await Promise.all([
    get(`${base}/status`, STATUS_MAX_BYTES, timeoutMs),
    get(`${base}/metrics`, METRICS_MAX_BYTES, timeoutMs),
    get(`${base}/kms/ca`, CA_MAX_BYTES, timeoutMs),
  ])
  const claims = 'error' in status ? undefined : status.status === 200 ? parseStatus(status.json) : undefined
  return {
    status:
      'error' in status ? status : claims === undefined ? { error: `/status answered HTTP ${status.status} without a §2.1 status` } : { claims },
    syncPushes:
      'error' in metrics ? metrics : metrics.status === 200 && metrics.text !== undefined ? parseSyncPushes(metrics.text) : { error: `/metrics answered HTTP ${metrics.status}` },
    ca: parseCa(ca),
  }
}

function parseCa(answer: Awaited<ReturnType<typeof get>>): NodeProbe['ca'] {
  if ('error' in answer) return answer
  const body = answer.json
  if (answer.status !== 200 || !isRecord(body)) {
    const message = isRecord(body) && typeof body['message'] === 'string' ? `: ${body['message'].slice(0, 120)}` : ''
    return { error: `/kms/ca answered HTTP ${answer.status}${message}` }
  }
  const fingerprint = body['fingerprint_sha256']
  const epoch = body['epoch']
  if (typeof fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(fingerprint) || !Number.isSafeInteger(epoch)) return { error: '/kms/ca is not a §2.7 answer' }
  return { fingerprint, epoch: epoch as number }
}
