/**
 * The console's judgement (issue 19): each node's claims set against the chain and against
 * the other nodes, and every disagreement named as something that needs attention. The
 * report is plain data, printed as a table or as JSON (`--json`); its members are snake_case
 * like `/status`, so the JSON reads like the rest of the wire.
 */
import type { NodeProbe } from './probeNode'
import type { RegistryView } from './readRegistry'

/**
 * Below this share of successful delta pushes since the node booted, replication needs a
 * look: a peer is down or refusing. It is a share of counters since boot, not a rate, so a
 * node that failed early and has pushed well since falls back above it on its own.
 */
export const SYNC_SUCCESS_ATTENTION_BELOW = 0.9

export type SecretCheck = 'match' | 'mismatch' | 'missing' | 'uncommitted' | 'unknown'

export interface NodeReport {
  url: string
  wallet: string
  version: { id: number; status: string; build: string | null }
  ready: { available: boolean | null; reason: string }
  /** One row per live epoch on the chain: the chain's hash, the node's, and whether they agree. */
  secrets: { epoch: number; chain_hash: string; node_hash: string | null; check: SecretCheck }[]
  peers: { seen: number | null; listed: number }
  sync_pushes: { ok: number; failed: number; success: number | null } | null
  operator: boolean
  ca: { fingerprint: string; epoch: number } | null
  attention: string[]
}

export interface ClusterReport {
  kms_registry: string
  nova_app_registry: string
  kms_app_id: number
  current_epoch: number
  live_epochs: { epoch: number; hash: string }[]
  nodes: NodeReport[]
  operators_without_instance: string[]
  /** Problems of the cluster as a whole (CA disagreement, instances not shown, none at all). */
  attention: string[]
  /** True when neither the cluster nor any node needs attention: the console exits 0. */
  healthy: boolean
}

const ZERO_HASH = `0x${'0'.repeat(64)}`

function shortHash(hash: string): string {
  return `${hash.slice(0, 10)}…`
}

function assessNode(registry: RegistryView, index: number, probe: NodeProbe): NodeReport {
  const instance = registry.instances[index]!
  const attention: string[] = []
  const claims = 'claims' in probe.status ? probe.status.claims : undefined
  if (claims === undefined) attention.push(`unreachable: ${'error' in probe.status ? probe.status.error : ''}`)
  else if (claims.wallet !== instance.wallet.toLowerCase()) {
    attention.push(`answers as ${claims.wallet || 'no wallet'}, not the registered ${instance.wallet}: another node, or the host, answers at this URL`)
  }
  if (claims !== undefined && !claims.serviceAvailable) attention.push(`not serving: ${claims.unavailableReason || 'no reason given'}`)
  if (instance.versionStatus !== 'ENROLLED') attention.push(`version ${instance.versionId} is ${instance.versionStatus}`)
  if (!instance.zkVerified) attention.push('not zkVerified: peers will not sync with it')
  if (!instance.isOperator) attention.push('not an operator in KMSRegistry: it cannot serve')

  const secrets = registry.liveEpochs.map(({ epoch, hash }) => {
    const held = claims?.held.find((entry) => entry.epoch === epoch)?.hash ?? null
    const check: SecretCheck = hash === ZERO_HASH ? 'uncommitted' : claims === undefined ? 'unknown' : held === null ? 'missing' : held === hash ? 'match' : 'mismatch'
    if (check === 'mismatch') attention.push(`epoch ${epoch}: holds a secret hashing to ${shortHash(held!)}, the chain commits ${shortHash(hash)}`)
    if (check === 'missing' && epoch === registry.currentEpoch) attention.push(`epoch ${epoch}: holds no secret for the current epoch`)
    return { epoch, chain_hash: hash, node_hash: held, check }
  })

  const listed = registry.instances.length
  if (claims !== undefined && claims.peersSeen !== listed) attention.push(`sees ${claims.peersSeen} of the ${listed} ACTIVE instances`)

  let syncPushes: NodeReport['sync_pushes'] = null
  if ('ok' in probe.syncPushes) {
    const { ok, failed } = probe.syncPushes
    const success = ok + failed === 0 ? null : ok / (ok + failed)
    syncPushes = { ok, failed, success }
    if (success !== null && success < SYNC_SUCCESS_ATTENTION_BELOW) {
      attention.push(`sync pushes: ${failed} of ${ok + failed} failed since boot`)
    }
  } else if (claims !== undefined) attention.push(`metrics: ${probe.syncPushes.error}`)

  const ca = 'fingerprint' in probe.ca ? probe.ca : null
  if (ca === null && claims?.serviceAvailable === true && 'error' in probe.ca) attention.push(`CA: ${probe.ca.error}`)

  return {
    url: instance.url,
    wallet: instance.wallet,
    version: { id: instance.versionId, status: instance.versionStatus, build: claims?.version ?? null },
    ready: { available: claims?.serviceAvailable ?? null, reason: claims?.unavailableReason ?? '' },
    secrets,
    peers: { seen: claims?.peersSeen ?? null, listed },
    sync_pushes: syncPushes,
    operator: instance.isOperator,
    ca,
    attention,
  }
}

/**
 * Every node serving an epoch must show that epoch's one CA (§8.2: it is derived from the
 * secret); a minority fingerprint is a node with another secret, or a host in the middle.
 */
function checkCaAgreement(nodes: NodeReport[], attention: string[]): void {
  const byEpoch = new Map<number, Map<string, NodeReport[]>>()
  for (const node of nodes) {
    if (node.ca === null) continue
    const fingerprints = byEpoch.get(node.ca.epoch) ?? new Map<string, NodeReport[]>()
    fingerprints.set(node.ca.fingerprint, [...(fingerprints.get(node.ca.fingerprint) ?? []), node])
    byEpoch.set(node.ca.epoch, fingerprints)
  }
  for (const [epoch, fingerprints] of byEpoch) {
    if (fingerprints.size < 2) continue
    attention.push(`the nodes show ${fingerprints.size} different CA fingerprints for epoch ${epoch}`)
    const groups = [...fingerprints.entries()].sort(([, a], [, b]) => b.length - a.length)
    // With a tie there is no majority to trust, so every node is flagged.
    const majority = groups[0]![1].length > groups[1]![1].length ? groups[0]![0] : undefined
    for (const [fingerprint, holders] of groups) {
      if (fingerprint === majority) continue
      const others = nodes.filter((node) => node.ca?.epoch === epoch && node.ca.fingerprint !== fingerprint).length
      for (const holder of holders) holder.attention.push(`CA fingerprint ${fingerprint.slice(0, 16)}… differs from ${others} other node(s) on epoch ${epoch}`)
    }
  }
}

export function assessCluster(registry: RegistryView, probes: readonly NodeProbe[]): ClusterReport {
  const nodes = probes.map((probe, index) => assessNode(registry, index, probe))
  const attention: string[] = []
  if (registry.instances.length === 0) attention.push(`app ${registry.kmsAppId} has no ACTIVE instance`)
  if (registry.instancesNotShown > 0) attention.push(`${registry.instancesNotShown} more ACTIVE instance(s) not probed (the console shows at most ${registry.instances.length})`)
  const urls = new Map<string, number>()
  for (const node of nodes) urls.set(node.url, (urls.get(node.url) ?? 0) + 1)
  for (const [url, count] of urls) if (count > 1) attention.push(`${count} instances register the same URL ${url}: one of them cannot be the node that answers`)
  checkCaAgreement(nodes, attention)
  const listed = new Set(registry.instances.map((instance) => instance.wallet))
  return {
    kms_registry: registry.kmsRegistry,
    nova_app_registry: registry.novaAppRegistry,
    kms_app_id: registry.kmsAppId,
    current_epoch: registry.currentEpoch,
    live_epochs: registry.liveEpochs,
    nodes,
    operators_without_instance: registry.operators.filter((operator) => !listed.has(operator)),
    attention,
    healthy: attention.length === 0 && nodes.every((node) => node.attention.length === 0),
  }
}
