/**
 * 7. Attestation verification throughput in this process (Node, one document at a time, so
 * one core): the nine shipped AWS Nitro fixtures, each verified at its own timestamp (debug
 * mode allowed, as six of them are debug documents). Decode-only (CBOR, COSE, payload; no
 * chain, no signature) is timed on the same documents, to show what the signatures cost.
 */
import { decodeNitroAttestationUnverified, verifyNitroAttestation } from '../core/attestation'
import { loadNitroFixtures, type NitroFixture } from '../test/helpers/nitro/fixtures'
import { log, median, round } from './_harness'

const ROUNDS = 5
const ROUND_MS = 700

export interface AttestationResult {
  fixtures: number
  verify_documents_per_second: number
  decode_only_documents_per_second: number
  /** How many decodes one verification costs. */
  verify_to_decode_cost: number
  verify_us_per_document: number
  rounds_verify_documents_per_second: number[]
}

/** Cycles through every fixture for `ms`; returns documents per second. */
async function cycle(fixtures: readonly NitroFixture[], ms: number, run: (fixture: NitroFixture) => Promise<unknown>): Promise<number> {
  let count = 0
  const started = performance.now()
  while (performance.now() - started < ms) {
    for (const fixture of fixtures) await run(fixture)
    count += fixtures.length
  }
  return (count * 1000) / (performance.now() - started)
}

export async function measureAttestation(): Promise<AttestationResult> {
  const fixtures = loadNitroFixtures()
  const verify = (fixture: NitroFixture): Promise<unknown> =>
    verifyNitroAttestation(fixture.document, { at: fixture.facts.timestampMs, allowDebugMode: true })
  const decode = async (fixture: NitroFixture): Promise<unknown> => decodeNitroAttestationUnverified(fixture.document)
  // Every fixture must verify: a failure would be timing the error path.
  for (const fixture of fixtures) await verify(fixture)
  await cycle(fixtures, 300, verify)
  const verifyRates: number[] = []
  const decodeRates: number[] = []
  for (let index = 0; index < ROUNDS; index++) {
    verifyRates.push(await cycle(fixtures, ROUND_MS, verify))
    decodeRates.push(await cycle(fixtures, ROUND_MS / 2, decode))
  }
  const verifyRate = median(verifyRates)
  const decodeRate = median(decodeRates)
  log(`attestation: verify ${round(verifyRate)} docs/s, decode-only ${round(decodeRate)} docs/s`)
  return {
    fixtures: fixtures.length,
    verify_documents_per_second: round(verifyRate),
    decode_only_documents_per_second: round(decodeRate),
    verify_to_decode_cost: round(decodeRate / verifyRate, 1),
    verify_us_per_document: round(1e6 / verifyRate),
    rounds_verify_documents_per_second: verifyRates.map((rate) => round(rate)),
  }
}
