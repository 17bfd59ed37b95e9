/**
 * In-memory counters behind `GET /metrics` (PROTOCOL §2.8), and their Prometheus 0.0.4 text
 * form. Gauges that the node already knows (store size, readiness) are passed in when
 * rendering rather than mirrored here.
 *
 * @module
 */

export const DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

interface Histogram {
  counts: number[]
  sum: number
  count: number
}

export interface MetricGauges {
  nonceStoreSize: number
  kvNamespaces: number
  kvKeys: number
  kvBytes: number
  masterSecretState: 'uninitialized' | 'generated' | 'synced' | 'recovered'
  serviceAvailable: boolean
  /** §7.7: the chain's current epoch, the one this node serves on, and records still below it. */
  epochs?: { current: number; serving: number | undefined; recordsBelowServing: number }
  /** §14.6: entries appended to the audit log and dropped by its bounds, since boot. */
  audit?: { entries: number; dropped: number }
}

/** Escapes a label value (Prometheus text format: backslash, quote and newline). */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** The two contracts a node reads (PROTOCOL §9.1, §9.2), as `registry` label values. */
export type RegistryName = 'nova_app_registry' | 'kms_registry'

export class Metrics {
  readonly #requests = new Map<string, number>()
  readonly #durations = new Map<string, Histogram>()
  readonly #rateLimited = { global: 0, nonce: 0 }
  readonly #syncPushes = new Map<string, number>()
  readonly #peerAttestations = new Map<string, number>()
  readonly #reencrypted = { ok: 0, failed: 0 }
  readonly #registryReadFailures: Record<RegistryName, number> = { nova_app_registry: 0, kms_registry: 0 }
  readonly #attestationFailures = new Map<string, number>()

  recordRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${label(route)}",method="${label(method)}",status="${status}"`
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1)
    let histogram = this.#durations.get(route)
    if (histogram === undefined) {
      histogram = { counts: DURATION_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 }
      this.#durations.set(route, histogram)
    }
    DURATION_BUCKETS_SECONDS.forEach((bound, index) => {
      if (seconds <= bound) histogram.counts[index]!++
    })
    histogram.sum += seconds
    histogram.count++
  }

  recordRateLimited(limiter: 'global' | 'nonce'): void {
    this.#rateLimited[limiter]++
  }

  recordSyncPush(peer: string, result: 'ok' | 'failed'): void {
    const key = `peer="${label(peer)}",result="${result}"`
    this.#syncPushes.set(key, (this.#syncPushes.get(key) ?? 0) + 1)
  }

  /**
   * One peer-attestation verification (PROTOCOL §4.5): whose document (`requester` when this
   * node answered a secret request, `responder` when it asked for one) and the outcome, `ok`
   * or the check that failed.
   */
  recordPeerAttestation(verified: 'requester' | 'responder', result: string): void {
    const key = `verified="${verified}",result="${label(result)}"`
    this.#peerAttestations.set(key, (this.#peerAttestations.get(key) ?? 0) + 1)
    if (result !== 'ok') this.recordAttestationFailure('peer', result)
  }

  /** One failed RPC read of a registry (§2.8): the read failed closed, or fell back to the cache. */
  recordRegistryReadFailure(registry: RegistryName): void {
    this.#registryReadFailures[registry]++
  }

  /**
   * One rejected Nitro attestation document (§2.8): an app's (`X-Nitro-Attestation`, §3.2)
   * or a peer's (§4.5), with the check that failed. Peers' failures are also in
   * `nova_kms_peer_attestations_total`; this series puts both sources under one alert.
   */
  recordAttestationFailure(source: 'app' | 'peer', reason: string): void {
    const key = `source="${source}",reason="${label(reason)}"`
    this.#attestationFailures.set(key, (this.#attestationFailures.get(key) ?? 0) + 1)
  }

  /** One re-encryption step (§6.10): records moved to the serving epoch, and those that failed. */
  recordReencryption(result: { reencrypted: number; failed: number }): void {
    this.#reencrypted.ok += result.reencrypted
    this.#reencrypted.failed += result.failed
  }

  /** The whole exposition, with every §2.8 series present even when it is zero. */
  render(gauges: MetricGauges): string {
    const lines: string[] = []
    const family = (name: string, type: string, help: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    }
    family('nova_kms_http_requests_total', 'counter', 'HTTP requests by route template, method and status.')
    for (const [labels, count] of this.#requests) lines.push(`nova_kms_http_requests_total{${labels}} ${count}`)
    family('nova_kms_http_request_duration_seconds', 'histogram', 'HTTP request duration by route template.')
    for (const [route, histogram] of this.#durations) {
      const routeLabel = `route="${label(route)}"`
      DURATION_BUCKETS_SECONDS.forEach((bound, index) => {
        lines.push(`nova_kms_http_request_duration_seconds_bucket{${routeLabel},le="${bound}"} ${histogram.counts[index]}`)
      })
      lines.push(`nova_kms_http_request_duration_seconds_bucket{${routeLabel},le="+Inf"} ${histogram.count}`)
      lines.push(`nova_kms_http_request_duration_seconds_sum{${routeLabel}} ${histogram.sum}`)
      lines.push(`nova_kms_http_request_duration_seconds_count{${routeLabel}} ${histogram.count}`)
    }
    family('nova_kms_nonce_store_size', 'gauge', 'Nonces currently held.')
    lines.push(`nova_kms_nonce_store_size ${gauges.nonceStoreSize}`)
    family('nova_kms_rate_limited_total', 'counter', 'Requests refused by a per-client limiter.')
    lines.push(`nova_kms_rate_limited_total{limiter="global"} ${this.#rateLimited.global}`)
    lines.push(`nova_kms_rate_limited_total{limiter="nonce"} ${this.#rateLimited.nonce}`)
    family('nova_kms_kv_namespaces', 'gauge', 'App namespaces in the store.')
    lines.push(`nova_kms_kv_namespaces ${gauges.kvNamespaces}`)
    family('nova_kms_kv_keys', 'gauge', 'Live records in the store.')
    lines.push(`nova_kms_kv_keys ${gauges.kvKeys}`)
    family('nova_kms_kv_bytes', 'gauge', 'Charged bytes of every record, tombstones included (PROTOCOL §6.4).')
    lines.push(`nova_kms_kv_bytes ${gauges.kvBytes}`)
    family('nova_kms_sync_push_total', 'counter', 'Delta pushes by peer and result.')
    for (const [labels, count] of this.#syncPushes) lines.push(`nova_kms_sync_push_total{${labels}} ${count}`)
    family('nova_kms_peer_attestations_total', 'counter', 'Peer attestation verifications by whose document and result (PROTOCOL §4.5).')
    for (const [labels, count] of this.#peerAttestations) lines.push(`nova_kms_peer_attestations_total{${labels}} ${count}`)
    family('nova_kms_registry_read_failures_total', 'counter', 'Failed RPC reads by registry contract (PROTOCOL §9).')
    for (const registry of ['nova_app_registry', 'kms_registry'] as const) {
      lines.push(`nova_kms_registry_read_failures_total{registry="${registry}"} ${this.#registryReadFailures[registry]}`)
    }
    family('nova_kms_attestation_failures_total', 'counter', 'Rejected Nitro attestation documents by source (app or peer) and failed check.')
    for (const [labels, count] of this.#attestationFailures) lines.push(`nova_kms_attestation_failures_total{${labels}} ${count}`)
    family('nova_kms_master_secret_state', 'gauge', '1 for the current master-secret state.')
    for (const state of ['uninitialized', 'generated', 'synced', 'recovered'] as const) {
      lines.push(`nova_kms_master_secret_state{state="${state}"} ${gauges.masterSecretState === state ? 1 : 0}`)
    }
    family('nova_kms_service_available', 'gauge', '1 while the node serves /kms/*.')
    lines.push(`nova_kms_service_available ${gauges.serviceAvailable ? 1 : 0}`)
    family('nova_kms_reencrypted_records_total', 'counter', 'Records moved to the serving epoch\'s data key, by result (PROTOCOL §6.10).')
    lines.push(`nova_kms_reencrypted_records_total{result="ok"} ${this.#reencrypted.ok}`)
    lines.push(`nova_kms_reencrypted_records_total{result="failed"} ${this.#reencrypted.failed}`)
    const epochs = gauges.epochs ?? { current: 0, serving: undefined, recordsBelowServing: 0 }
    family('nova_kms_epoch_current', 'gauge', 'The cluster epoch KMSRegistry names current (PROTOCOL §7.7).')
    lines.push(`nova_kms_epoch_current ${epochs.current}`)
    family('nova_kms_epoch_serving', 'gauge', 'The cluster epoch this node serves on; -1 without a secret.')
    lines.push(`nova_kms_epoch_serving ${epochs.serving ?? -1}`)
    family('nova_kms_reencrypt_records_remaining', 'gauge', 'Stored records still under an older epoch than the serving one.')
    lines.push(`nova_kms_reencrypt_records_remaining ${epochs.recordsBelowServing}`)
    const audit = gauges.audit ?? { entries: 0, dropped: 0 }
    family('nova_kms_audit_entries_total', 'counter', 'Audit log entries appended (PROTOCOL §14).')
    lines.push(`nova_kms_audit_entries_total ${audit.entries}`)
    family('nova_kms_audit_dropped_total', 'counter', 'Audit log entries dropped by the log\'s bounds (PROTOCOL §14.3).')
    lines.push(`nova_kms_audit_dropped_total ${audit.dropped}`)
    return lines.join('\n') + '\n'
  }
}
