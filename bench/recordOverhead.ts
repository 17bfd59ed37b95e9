/**
 * What one stored record costs in memory, to choose PROTOCOL §6.4's RECORD_OVERHEAD_BYTES
 * and CLOCK_ENTRY_BYTES (core/store/storeRecord.ts) from a measurement:
 *
 *   node --expose-gc --import tsx bench/recordOverhead.ts [--records N]
 *
 * Each scenario runs in a child process of its own (so that RSS is not the previous
 * scenario's leftovers): it fills one `KvStore` namespace with N records the way the node
 * does (local puts with keys from JSON.parse and fresh ciphertexts, or `ingest` of parsed
 * delta bodies), collects garbage, and reports per record the growth of heapUsed +
 * arrayBuffers ("live") and of RSS. `overhead` is live minus the key's charged bytes (§6.4:
 * UTF-8, or UTF-16 for a key held so), the ciphertext bytes and the charged clock entries:
 * what RECORD_OVERHEAD_BYTES must cover. `charged_minus_live` must not be negative.
 * Prints one JSON object on stdout; `--only a,b` runs only the named scenarios.
 *
 * Last run (Node 20.20, 131,073 records, packed records of core/store/_heldRecord.ts): live
 * beyond key and ciphertext 200–212 bytes with one clock entry, 230 with a TTL rewritten, 408
 * for 1024-byte values written twice; 94 per further entry with wallets of their own, 26
 * shared; `charged_minus_live` ≥ 488 everywhere. bench_put / bench_ingest: 345 live bytes per
 * record (326 at 100,000, where the records map has not just doubled).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Wallet } from '../core/encoding'
import { CLOCK_ENTRY_BYTES, KvStore, RECORD_OVERHEAD_BYTES, keyBytes, type WireRecord } from '../core/store'

const WALLET = `0x${'a'.repeat(40)}` as Wallet
const PEER = `0x${'b'.repeat(40)}` as Wallet
const NOW = 1_767_225_600_000
/** A delta body's worth of records per ingest call, as sync_tick sends them. */
const CHUNK = 5_000

interface Scenario {
  /** What is stored: the key length in characters, the ciphertext bytes, the clock. */
  readonly keyChars: number
  readonly ciphertextBytes: number
  readonly via: 'put' | 'ingest'
  readonly tombstone?: boolean
  readonly ttlMs?: number
  /** Clock entries per record; `unique` gives every record its own wallets (a hostile peer). */
  readonly clockEntries?: number
  readonly unique?: boolean
  /** Writes per key: the purge queues hold stale entries until they are compacted. */
  readonly rewrites?: number
  /** The key starts with U+0101 (2 UTF-8 bytes), so V8 holds it as UTF-16. */
  readonly twoByte?: boolean
}

const SCENARIOS: Record<string, Scenario> = {
  put_small: { keyChars: 6, ciphertextBytes: 28, via: 'put' },
  put_small_ttl_rewritten: { keyChars: 6, ciphertextBytes: 28, via: 'put', ttlMs: 86_400_000, rewrites: 2 },
  put_value_100: { keyChars: 6, ciphertextBytes: 100, via: 'put' },
  // The largest value kept in shared pages, each written twice: released bytes stay in the
  // pages until they pass half the live ones (core/store/_byteSlab.ts).
  put_value_1024_rewritten: { keyChars: 6, ciphertextBytes: 1024, via: 'put', rewrites: 2 },
  put_tombstone: { keyChars: 6, ciphertextBytes: 28, via: 'put', tombstone: true },
  ingest_small: { keyChars: 6, ciphertextBytes: 28, via: 'ingest' },
  ingest_value_100: { keyChars: 6, ciphertextBytes: 100, via: 'ingest' },
  ingest_tombstone: { keyChars: 6, ciphertextBytes: 0, via: 'ingest', tombstone: true },
  ingest_key_1024: { keyChars: 1024, ciphertextBytes: 28, via: 'ingest' },
  put_key_1024: { keyChars: 1024, ciphertextBytes: 28, via: 'put' },
  // A key with one character above U+00FF is held as UTF-16: 1023 units, 2046 bytes in memory.
  ingest_key_1024_two_byte: { keyChars: 1023, ciphertextBytes: 28, via: 'ingest', twoByte: true },
  // 17 entries: just past a doubling of the clock map's table, the worst case per entry.
  ingest_clock_17_shared: { keyChars: 6, ciphertextBytes: 28, via: 'ingest', clockEntries: 17 },
  ingest_clock_17_unique: { keyChars: 6, ciphertextBytes: 28, via: 'ingest', clockEntries: 17, unique: true },
  // The bench's record (bench/sync.ts): a 16-character key, a 100-byte value (128 bytes of
  // ciphertext), one clock entry; bench/memory.ts runs these at 100,000 records.
  bench_put: { keyChars: 16, ciphertextBytes: 128, via: 'put' },
  bench_ingest: { keyChars: 16, ciphertextBytes: 128, via: 'ingest' },
}

/** One scenario's figures, per record. */
export interface ScenarioResult {
  name: string
  records: number
  key_charged_bytes: number
  ciphertext_bytes: number
  clock_entries: number
  live_bytes_per_record: number
  rss_bytes_per_record: number
  overhead_live: number
  overhead_rss: number
  charged_bytes_per_record: number
  charged_over_live: number
  charged_minus_live: number
}

interface Usage {
  live: number
  rss: number
}

function usage(): Usage {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  for (let round = 0; round < 3; round++) gc()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  // /proc's VmRSS is what the host sees; process.memoryUsage().rss is the same figure.
  const status = readFileSync('/proc/self/status', 'utf8')
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024
  return { live: heapUsed + arrayBuffers, rss }
}

/** A key of exactly `chars` characters (ASCII, or U+0101 then ASCII), unique per index. */
function keyText(index: number, chars: number, twoByte = false): string {
  return `${twoByte ? '\u0101' : 'k'}${index.toString(36)}`.padEnd(chars, '.').slice(0, chars)
}

function randomWallet(): Wallet {
  const bytes = crypto.getRandomValues(new Uint8Array(20))
  return `0x${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}` as Wallet
}

function wireRecord(index: number, scenario: Scenario): WireRecord {
  const entries = scenario.clockEntries ?? 1
  const version: Record<Wallet, number> = {}
  for (let entry = 0; entry < entries; entry++) {
    const wallet = scenario.unique ? randomWallet() : entry === 0 ? PEER : (`0x${entry.toString(16).padStart(40, 'c')}` as Wallet)
    version[wallet] = 1
  }
  return {
    key: keyText(index, scenario.keyChars, scenario.twoByte),
    value: scenario.tombstone ? null : 'ab'.repeat(scenario.ciphertextBytes),
    version,
    updated_at_ms: NOW,
    tombstone: scenario.tombstone === true,
    ttl_ms: scenario.ttlMs ?? 0,
  }
}

async function fill(store: KvStore, records: number, scenario: Scenario): Promise<void> {
  for (let start = 0; start < records; start += CHUNK) {
    const count = Math.min(CHUNK, records - start)
    if (scenario.via === 'ingest') {
      // The text travels and is parsed, as a /sync body is: keys and hex are fresh strings.
      const text = JSON.stringify({ 1: Array.from({ length: count }, (_, offset) => wireRecord(start + offset, scenario)) })
      const result = await store.ingest(JSON.parse(text), async () => true)
      if (result.merged !== count) throw new Error(`ingest merged ${result.merged} of ${count}`)
      continue
    }
    // PUT bodies are parsed JSON too, so the key is a flat string of its own.
    const keys = JSON.parse(JSON.stringify(Array.from({ length: count }, (_, offset) => keyText(start + offset, scenario.keyChars, scenario.twoByte)))) as string[]
    for (const key of keys) {
      for (let write = 0; write < (scenario.rewrites ?? 1); write++) {
        // As encryptRecord's concatBytes: one fresh array per value.
        store.put(1, key, crypto.getRandomValues(new Uint8Array(scenario.ciphertextBytes)), scenario.ttlMs ?? 0)
      }
      if (scenario.tombstone) store.delete(1, key)
    }
  }
}

async function runScenario(name: string, records: number): Promise<void> {
  const scenario = SCENARIOS[name]
  if (scenario === undefined) throw new Error(`unknown scenario ${name}`)
  const store = new KvStore({
    clock: { nowMs: () => NOW },
    nodeWallet: () => WALLET,
    limits: {
      // Large enough that nothing is evicted: this measures what is held.
      maxAppStorageBytes: Number.MAX_SAFE_INTEGER,
      maxRecordsPerApp: Number.MAX_SAFE_INTEGER,
      maxValueSizeBytes: 1_048_576,
      tombstoneRetentionMs: 86_400_000,
      maxTombstonesPerApp: Number.MAX_SAFE_INTEGER,
      maxClockSkewMs: 15_000,
    },
  })
  // Warm up the code paths (and their allocations) on another app, then drop it.
  await fill(new KvStore({ clock: { nowMs: () => NOW }, nodeWallet: () => WALLET, limits: { maxAppStorageBytes: 1e12, maxValueSizeBytes: 1_048_576, tombstoneRetentionMs: 1, maxTombstonesPerApp: 1e9, maxClockSkewMs: 0 } }), 2 * CHUNK, scenario)
  const before = usage()
  await fill(store, records, scenario)
  const after = usage()
  const stats = store.stats()
  const held = store.snapshot()['1']?.length ?? 0
  if (held !== records) throw new Error(`${name}: ${held} records held, expected ${records}`)
  const live = (after.live - before.live) / records
  const clockEntries = scenario.clockEntries ?? 1
  const ciphertext = scenario.tombstone ? 0 : scenario.ciphertextBytes
  const charged = stats.total_bytes / records
  const keyCharge = keyBytes(keyText(0, scenario.keyChars, scenario.twoByte))
  const result: ScenarioResult = {
    name,
    records,
    key_charged_bytes: keyCharge,
    ciphertext_bytes: ciphertext,
    clock_entries: clockEntries,
    live_bytes_per_record: Math.round(live),
    rss_bytes_per_record: Math.round((after.rss - before.rss) / records),
    overhead_live: Math.round(live - keyCharge - ciphertext - clockEntries * CLOCK_ENTRY_BYTES),
    overhead_rss: Math.round((after.rss - before.rss) / records - keyCharge - ciphertext - clockEntries * CLOCK_ENTRY_BYTES),
    charged_bytes_per_record: charged,
    charged_over_live: Math.round((charged / live) * 100) / 100,
    charged_minus_live: Math.round(charged - live),
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

const SELF = fileURLToPath(import.meta.url)

/**
 * Runs `name` with `records` records in a child process of its own (`--expose-gc`, with this
 * process's loader flags, so a bench under tsx can call it) and returns its figures.
 */
export function measureScenario(name: string, records: number): ScenarioResult {
  const flags = ['--expose-gc', ...process.execArgv.filter((flag) => flag !== '--expose-gc')]
  const output = execFileSync(process.execPath, [...flags, SELF, '--scenario', name, '--records', String(records)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(output) as ScenarioResult
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const option = (name: string): string | undefined => {
    const index = argv.indexOf(name)
    return index < 0 ? undefined : argv[index + 1]
  }
  // Just past a power of two, where V8's hash tables have just doubled: the worst case.
  const records = Number(option('--records') ?? 131_073)
  const scenario = option('--scenario')
  if (scenario !== undefined) return runScenario(scenario, records)
  const only = option('--only')?.split(',')
  const results: ScenarioResult[] = []
  for (const name of Object.keys(SCENARIOS)) {
    if (only !== undefined && !only.includes(name)) continue
    process.stderr.write(`[recordOverhead] ${name}\n`)
    results.push(measureScenario(name, records))
  }
  const one = results.find((r) => r.name === 'ingest_small')
  const unique = results.find((r) => r.name === 'ingest_clock_17_unique')
  const perEntry = one && unique ? { live: (unique.live_bytes_per_record - one.live_bytes_per_record) / 16, rss: (unique.rss_bytes_per_record - one.rss_bytes_per_record) / 16 } : undefined
  process.stdout.write(
    JSON.stringify(
      {
        node: process.version,
        records,
        constants: { RECORD_OVERHEAD_BYTES, CLOCK_ENTRY_BYTES },
        clock_entry_bytes_measured: perEntry && { live: Math.round(perEntry.live), rss: Math.round(perEntry.rss) },
        scenarios: results,
      },
      null,
      2,
    ) + '\n',
  )
}

// Run only as a script: bench/memory.ts imports `measureScenario`.
if (process.argv[1] === SELF) await main()
