/** fast-check generators of simulation schedules (`_simulator.ts`): who writes, ticks and talks when. */
import fc from 'fast-check'
import { APPS, KEYS, MAX_CLOCK_SKEW_MS, type Schedule, type SimOp } from './_types'

export interface ScheduleOptions {
  readonly maxOps: number
  /** `legal`: pairwise skews within MAX_CLOCK_SKEW_MS (§6.7). `rogue`: node 0 runs further ahead. */
  readonly skew: 'legal' | 'rogue'
  /** Also take single links down and up (non-transitive partitions, §6.8 relays). */
  readonly links?: boolean
  /** Also let the host move a node's clock: forward by up to twice MAX_CLOCK_SKEW_MS, back by up to 1 s. */
  readonly shifts?: boolean
  /**
   * A key rotation in the middle of the traffic (§7.7, §6.10): after a first stretch of plain
   * steps, nodes install the new epoch one by one, start re-encryption batches and complete
   * (or fail) their steps, among the same writes, deletes, ticks and faults.
   */
  readonly rotation?: boolean
}

/** Clusters have 2..MAX_NODES replicas: enough for three-way partitions and relayed merges. */
const MAX_NODES = 5

const node = fc.nat({ max: 9 })
const pick = fc.nat({ max: 63 })

/** Every step a schedule may take; the network also drops, times out and partitions. */
const op: fc.Arbitrary<SimOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('put'), node, app: fc.constantFrom(...APPS), key: fc.constantFrom(...KEYS), order: fc.nat({ max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete'), node, app: fc.constantFrom(...APPS), key: fc.constantFrom(...KEYS) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('tick'), node }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('deliver'), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('duplicate', 'delay'), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reorder'), pick, other: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('drop', 'timeout'), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('partition'), sides: fc.array(fc.nat({ max: 2 }), { minLength: MAX_NODES, maxLength: MAX_NODES }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heal') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rejoin'), node, from: node }) },
  // Most steps leave the clock alone, so same-millisecond ties (§6.6 ciphertext order) are common.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance'), ms: fc.oneof(fc.constantFrom(1, 2, 999), fc.integer({ min: 1, max: 20_000 })) }) },
)

/** A legal skew, with both ends of the §6.7 window weighted in. */
const legalSkew = fc.oneof(fc.constantFrom(0, MAX_CLOCK_SKEW_MS), fc.integer({ min: 0, max: MAX_CLOCK_SKEW_MS }))

/** Node 0 runs 15 to 45 s ahead, the others within 5 s: node 0 breaks §6.7 against most of them. */
const rogueSkews = fc
  .tuple(fc.integer({ min: MAX_CLOCK_SKEW_MS + 1, max: MAX_CLOCK_SKEW_MS + 30_000 }), fc.array(fc.nat({ max: 5_000 }), { minLength: MAX_NODES - 1, maxLength: MAX_NODES - 1 }))
  .map(([rogue, others]) => [rogue, ...others])

const linkOp: fc.Arbitrary<SimOp> = fc.record({ kind: fc.constantFrom('cut', 'link'), a: node, b: node })
/**
 * Forward by up to twice the bound, back by up to one second: the sync tick's scan for local
 * writes reaches one tick gap back (PROTOCOL §6.8), so a larger move back between two ticks
 * that is undone before the next one hides the writes made meanwhile (a documented limit; a
 * move back that a tick sees is the behavior test in relay.test.ts).
 */
const shiftOp: fc.Arbitrary<SimOp> = fc.record({ kind: fc.constant('shift'), node, ms: fc.integer({ min: -1_000, max: 2 * MAX_CLOCK_SKEW_MS }) })

/** Rotation steps: small batches, so that a store takes several; one step in six fails. */
const rotationOp: fc.Arbitrary<SimOp> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('acquire'), node }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reencrypt'), node, limit: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('crypto'), node, fail: fc.nat({ max: 5 }).map((roll) => roll === 0) }) },
)

export function scheduleArbitrary(options: ScheduleOptions): fc.Arbitrary<Schedule> {
  const extra: { weight: number; arbitrary: fc.Arbitrary<SimOp> }[] = [
    { weight: 10, arbitrary: op },
    ...(options.links === true ? [{ weight: 2, arbitrary: linkOp }] : []),
    ...(options.shifts === true ? [{ weight: 1, arbitrary: shiftOp }] : []),
  ]
  const step = extra.length === 1 ? op : fc.oneof(...extra)
  const rotating = fc.oneof({ weight: 10, arbitrary: step }, { weight: 6, arbitrary: rotationOp })
  const ops =
    options.rotation === true
      ? fc
          .tuple(fc.array(step, { maxLength: Math.floor(options.maxOps / 3), size: 'max' }), fc.array(rotating, { minLength: 1, maxLength: options.maxOps, size: 'max' }))
          .map(([before, during]) => [...before, ...during])
      : fc.array(step, { minLength: 1, maxLength: options.maxOps, size: 'max' })
  return fc.record({
    nodes: fc.integer({ min: 2, max: MAX_NODES }),
    skewsMs: options.skew === 'legal' ? fc.array(legalSkew, { minLength: MAX_NODES, maxLength: MAX_NODES }) : rogueSkews,
    // §6.8 step 3: a record is about 300 bytes here, so 400 sends one body per record.
    maxSyncPayloadBytes: fc.constantFrom(400, 1_500, 1_048_576),
    ops,
  })
}
