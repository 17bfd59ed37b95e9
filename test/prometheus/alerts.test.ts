/**
 * deploy/prometheus/alerts.yml, checked by promtool (Debian's `prometheus` package) against
 * two pairs of `/metrics` scrapes recorded from a real node by record-scrapes.ts, one minute
 * apart:
 * - `promtool check rules` accepts the file, and every rule carries `for:`, a severity and
 *   annotations that name the node;
 * - `promtool test rules`, with input series built from the scrapes (scrapes.ts), finds that
 *   the healthy pair fires no alert at all, and the faulty pair (a dead chain, broken app
 *   attestation documents) fires exactly the expected alerts with their labels and annotations;
 * - series tweaked from the healthy pair fire the rule they are meant to and no other, so that
 *   every rule is seen firing once: a rule that never fires cannot pass for a quiet cluster;
 * - the README's alert block is this file, byte for byte.
 *
 * Without promtool the suite fails (it never skips), naming the package to install.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { pairScrapes, parseScrape, toInputSeries, type SeriesPair } from './scrapes'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ALERTS_PATH = `${ROOT}deploy/prometheus/alerts.yml`
const README_MARKER = '<!-- alerts: deploy/prometheus/alerts.yml -->'
/** The recorded scrapes are one minute apart (record-scrapes.ts SCRAPE_INTERVAL_MS). */
const SCRAPE_INTERVAL = '1m'
/** Samples after the second scrape: an hour, past the longest window plus `for:` (45 m). */
const EXTRA_INTERVALS = 60
const LATE = '60m'
const NODE_LABELS = { job: 'nova-kms', instance: 'kms-1.example:8443' } as const

interface AlertRule {
  alert: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

interface ExpectedAlert {
  alertname: string
  labels: Record<string, string>
}

function readAlertRules(): AlertRule[] {
  const document: unknown = parse(readFileSync(ALERTS_PATH, 'utf8'))
  const groups = (document as { groups?: unknown }).groups
  if (!Array.isArray(groups) || groups.length !== 1) throw new Error('alerts.yml must hold exactly one group')
  const group = groups[0] as { name?: unknown; rules?: unknown }
  if (group.name !== 'nova-kms' || !Array.isArray(group.rules)) throw new Error('alerts.yml: the group must be `nova-kms` with rules')
  return group.rules.map((rule: unknown, index) => {
    const candidate = rule as Partial<AlertRule>
    if (typeof candidate.alert !== 'string' || typeof candidate.expr !== 'string') throw new Error(`alerts.yml rule ${index}: not an alerting rule`)
    return candidate as AlertRule
  })
}

/** Runs promtool; a missing binary fails with the package to install. */
function promtool(args: string[]): { status: number; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 })
  if (result.error !== undefined) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT'
    throw new Error(missing ? 'promtool is not on PATH: install the Debian package `prometheus` (`bash test/system-packages.sh prometheus`, which npm test runs)' : `promtool failed to run: ${result.error.message}`)
  }
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` }
}

function loadPair(name: 'healthy' | 'faulty'): SeriesPair[] {
  const read = (index: number) => parseScrape(readFileSync(`${ROOT}test/prometheus/scrape-${name}-${index}.prom`, 'utf8'))
  const pairs = pairScrapes(read(1), read(2), NODE_LABELS)
  // Prometheus adds `up` itself: the node answered both scrapes.
  pairs.push({ name: 'up', labels: { ...NODE_LABELS }, kind: 'gauge', first: 1, second: 1 })
  return pairs
}

/** The annotations promtool renders for `labels`: the rules use `{{ $labels.<name> }}` only. */
function renderAnnotations(rule: AlertRule, labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(rule.annotations ?? {}).map(([key, template]) => [
      key,
      template.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, name: string) => {
        const value = labels[name]
        if (value === undefined) throw new Error(`${rule.alert}.${key} names label ${name}, which the expected alert lacks`)
        return value
      }),
    ]),
  )
}

/**
 * A promtool test group: `pairs` as input series, and at each of `evalTimes` one case per
 * rule, expecting exactly the alerts of `expected` with that name (none for the others).
 */
function testGroup(name: string, pairs: SeriesPair[], evalTimes: string[], expected: ExpectedAlert[]): Record<string, unknown> {
  const rules = readAlertRules()
  return {
    name,
    interval: SCRAPE_INTERVAL,
    input_series: pairs.map((pair) => toInputSeries(pair, EXTRA_INTERVALS)),
    alert_rule_test: evalTimes.flatMap((evalTime) =>
      rules.map((rule) => ({
        eval_time: evalTime,
        alertname: rule.alert,
        exp_alerts: expected
          .filter((alert) => alert.alertname === rule.alert)
          .map((alert) => {
            const labels = { ...rule.labels, ...alert.labels }
            return { exp_labels: labels, exp_annotations: renderAnnotations(rule, labels) }
          }),
      })),
    ),
  }
}

let workDirectory: string

beforeAll(() => {
  workDirectory = mkdtempSync(join(tmpdir(), 'nova-kms-alerts-'))
})

afterAll(() => {
  rmSync(workDirectory, { recursive: true, force: true })
})

/** Writes a promtool unit-test file for `groups` and runs it; fails with promtool's report. */
function runPromtoolTests(fileName: string, groups: Record<string, unknown>[]): void {
  const path = join(workDirectory, fileName)
  writeFileSync(path, stringify({ rule_files: [ALERTS_PATH], evaluation_interval: SCRAPE_INTERVAL, tests: groups }))
  const { status, output } = promtool(['test', 'rules', path])
  expect(status, `promtool test rules ${fileName}:\n${output}`).toBe(0)
}

const nodeAlert = (alertname: string, labels: Record<string, string> = {}): ExpectedAlert => ({ alertname, labels: { ...NODE_LABELS, ...labels } })

describe('deploy/prometheus/alerts.yml', () => {
  it('behavior: promtool check rules accepts it', () => {
    const { status, output } = promtool(['check', 'rules', ALERTS_PATH])
    expect(status, output).toBe(0)
    expect(output).toContain(`SUCCESS: ${readAlertRules().length} rules found`)
  })

  it('behavior: every rule waits with for:, has a severity and names the node in its summary and description', () => {
    const rules = readAlertRules()
    expect(rules.length).toBeGreaterThanOrEqual(13)
    for (const rule of rules) {
      expect(rule.for, `${rule.alert}: for`).toMatch(/^\d+[smh]$/)
      expect(['critical', 'warning'], `${rule.alert}: severity`).toContain(rule.labels?.severity)
      expect(rule.annotations?.summary, `${rule.alert}: summary`).toContain('{{ $labels.instance }}')
      expect(rule.annotations?.description, `${rule.alert}: description`).toContain('{{ $labels.instance }}')
    }
  })

  it('behavior: the healthy scrapes fire no alert, at any time', () => {
    runPromtoolTests('healthy.yml', [testGroup('healthy node', loadPair('healthy'), ['5m', '20m', '45m', LATE], [])])
  })

  it('behavior: the faulty scrapes (chain stopped, broken app documents) fire exactly the expected alerts, and none before its for: elapses', () => {
    const expected = [
      nodeAlert('NovaKmsNodeNotServing'),
      nodeAlert('NovaKmsRegistryReadFailures', { registry: 'kms_registry' }),
      nodeAlert('NovaKmsRegistryReadFailures', { registry: 'nova_app_registry' }),
      nodeAlert('NovaKmsAppAttestationFailures', { reason: 'ATTESTATION_CBOR_MALFORMED' }),
      nodeAlert('NovaKmsHigh5xxRate'),
      // Not NovaKmsAuditEntriesDropped: the one app's chain passed 1024 entries and drops, but
      // the node holds far below its node-wide bound (§14.3).
    ]
    const pairs = loadPair('faulty')
    runPromtoolTests('faulty.yml', [testGroup('faulty node, late', pairs, ['45m', LATE], expected), testGroup('faulty node, early', pairs, ['2m'], [])])
  })

  it('behavior: every rule the recordings leave quiet fires on a tweaked healthy series, alone (or with the rule it implies)', () => {
    const healthy = loadPair('healthy')
    /** `healthy` with the series named `name` (and matching `labels`) changed by `change`. */
    const tweak = (name: string, change: Partial<SeriesPair>, labels: Record<string, string> = {}): SeriesPair[] =>
      healthy.map((pair) => (pair.name === name && Object.entries(labels).every(([key, value]) => pair.labels[key] === value) ? { ...pair, ...change } : pair))
    const okPushes = healthy.find((pair) => pair.name === 'nova_kms_sync_push_total' && pair.labels['result'] === 'ok')!
    const peer = okPushes.labels['peer']!
    const secondNode = { job: NODE_LABELS.job, instance: 'kms-2.example:8443' }
    const peerFailure = (kind: SeriesPair['kind']): SeriesPair[] => [
      ...healthy,
      { name: 'nova_kms_attestation_failures_total', labels: { source: 'peer', reason: 'measurement mismatch', ...NODE_LABELS }, kind, first: undefined, second: 1 },
    ]
    const cases: { name: string; pairs: SeriesPair[]; evalTime: string; expected: ExpectedAlert[] }[] = [
      {
        // As many failed pushes to one peer as successful ones: 50%, over the 25% threshold.
        name: 'one peer refuses half the pushes',
        pairs: [...healthy, { ...okPushes, labels: { ...okPushes.labels, result: 'failed' }, first: 0, second: okPushes.second! - okPushes.first! }],
        evalTime: LATE,
        expected: [nodeAlert('NovaKmsSyncPushFailing', { peer })],
      },
      { name: 'the target stops answering', pairs: tweak('up', { second: 0 }), evalTime: LATE, expected: [nodeAlert('NovaKmsTargetDown')] },
      {
        // No secret: not serving, and serving epoch -1, which NovaKmsEpochLag leaves alone.
        name: 'the node has no master secret',
        pairs: healthy.map((pair) => {
          if (pair.name === 'nova_kms_master_secret_state') return { ...pair, second: pair.labels['state'] === 'uninitialized' ? 1 : 0 }
          if (pair.name === 'nova_kms_service_available') return { ...pair, second: 0 }
          return pair.name === 'nova_kms_epoch_serving' ? { ...pair, second: -1 } : pair
        }),
        evalTime: LATE,
        expected: [nodeAlert('NovaKmsMasterSecretUninitialized', { state: 'uninitialized' }), nodeAlert('NovaKmsNodeNotServing')],
      },
      {
        // /kms/data's new requests all land between 1 s and 2.5 s: the buckets below 2.5 s stop growing.
        name: '/kms/data slows down',
        pairs: healthy.map((pair) => {
          const fast = pair.name === 'nova_kms_http_request_duration_seconds_bucket' && pair.labels['route'] === '/kms/data' && Number(pair.labels['le']) < 2.5
          return fast ? { ...pair, second: pair.first } : pair
        }),
        evalTime: LATE,
        expected: [nodeAlert('NovaKmsHighLatencyP99', { route: '/kms/data' })],
      },
      { name: 'a client is refused twice a second', pairs: tweak('nova_kms_rate_limited_total', { first: 0, second: 120 }, { limiter: 'global' }), evalTime: LATE, expected: [nodeAlert('NovaKmsRateLimitingSurge', { limiter: 'global' })] },
      { name: 'a peer keeps failing attestation', pairs: peerFailure('counter'), evalTime: LATE, expected: [nodeAlert('NovaKmsPeerAttestationFailures', { reason: 'measurement mismatch' })] },
      // A reason counted once, then never again: increase() sees nothing, the new series does.
      { name: 'one peer document rejected, just now', pairs: peerFailure('gauge'), evalTime: '5m', expected: [nodeAlert('NovaKmsPeerAttestationFailures', { reason: 'measurement mismatch' })] },
      { name: 'one peer document rejected, long ago', pairs: peerFailure('gauge'), evalTime: LATE, expected: [] },
      {
        // The node-wide audit bound binds: 16050 entries held, and 600 more dropped every minute.
        name: 'the audit log is at its node-wide bound',
        pairs: healthy.map((pair) => {
          if (pair.name === 'nova_kms_audit_entries_total') return { ...pair, first: 20_000, second: 20_600 }
          return pair.name === 'nova_kms_audit_dropped_total' ? { ...pair, first: 3_950, second: 4_550 } : pair
        }),
        evalTime: LATE,
        expected: [nodeAlert('NovaKmsAuditEntriesDropped')],
      },
      { name: 'the node lags a rotation', pairs: tweak('nova_kms_epoch_current', { first: 1, second: 1 }), evalTime: LATE, expected: [nodeAlert('NovaKmsEpochLag')] },
      { name: 'records stay under an old epoch', pairs: tweak('nova_kms_reencrypt_records_remaining', { first: 5, second: 5 }), evalTime: LATE, expected: [nodeAlert('NovaKmsReencryptionStuck')] },
      {
        // A second node of the job already on epoch 1: node 1, still reading epoch 0, is behind.
        name: 'another node sees a newer epoch',
        pairs: [
          ...healthy,
          ...healthy
            .filter((pair) => pair.name === 'nova_kms_epoch_current' || pair.name === 'nova_kms_epoch_serving')
            .map((pair) => ({ ...pair, labels: { ...pair.labels, ...secondNode }, first: 1, second: 1 })),
        ],
        evalTime: LATE,
        expected: [nodeAlert('NovaKmsEpochDisagreement')],
      },
      { name: 'nonces pile up', pairs: tweak('nova_kms_nonce_store_size', { second: 4000 }), evalTime: LATE, expected: [nodeAlert('NovaKmsNonceStoreNearlyFull')] },
    ]
    runPromtoolTests('tweaked.yml', cases.map((tweaked) => testGroup(tweaked.name, tweaked.pairs, [tweaked.evalTime], tweaked.expected)))
    // Between them, the recordings and these cases make every rule fire at least once.
    const fired = new Set(cases.flatMap((tweaked) => tweaked.expected.map((alert) => alert.alertname)))
    for (const alertname of ['NovaKmsRegistryReadFailures', 'NovaKmsAppAttestationFailures', 'NovaKmsHigh5xxRate']) fired.add(alertname)
    expect([...fired].sort()).toEqual(readAlertRules().map((rule) => rule.alert).sort())
  })

  it('behavior: the README shows alerts.yml byte for byte, after its marker line', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8').split('\n')
    const marker = readme.indexOf(README_MARKER)
    expect(marker, `README.md lacks the line ${README_MARKER}`).toBeGreaterThanOrEqual(0)
    expect(readme[marker + 1], 'the line after the marker opens a yaml block').toBe('```yaml')
    const end = readme.indexOf('```', marker + 2)
    expect(end, 'the yaml block after the marker is closed').toBeGreaterThan(marker + 1)
    expect(`${readme.slice(marker + 2, end).join('\n')}\n`).toBe(readFileSync(ALERTS_PATH, 'utf8'))
  })
})
