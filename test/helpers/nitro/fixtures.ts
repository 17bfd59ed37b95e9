/**
 * The real AWS Nitro documents of `test/fixtures/nitro` (docs/ATTESTATION.md §6.1), loaded
 * with their facts from `fixtures.json`. `.b64` files go through the ATTESTATION.md §1 base64
 * text rule.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeAttestationText } from '../../../core/attestation'

/** The repository's own copy of the fixtures, with their provenance in its README (DESIGN §5). */
export const NITRO_FIXTURES_DIR = fileURLToPath(new URL('../../fixtures/nitro/', import.meta.url))

export interface FixtureFacts {
  file: string
  decodedBytes: number
  sha256OfDecoded: string
  module_id: string
  timestampMs: number
  chainValidFrom: string
  chainValidTo: string
  leaf: { notBefore: string; notAfter: string }
  cabundle: { subject: string; notBefore: string; notAfter: string; pathLen?: number }[]
  public_key: string
  user_data: string
  nonce: string
  pcrCount: number
  pcrLength: number
  nonZeroPcrs: Record<string, string>
  debugModeLikely: boolean
  signatureHighS: boolean
}

export interface NitroFixture {
  readonly name: string
  readonly facts: FixtureFacts
  /** The decoded COSE_Sign1 bytes. */
  readonly document: Uint8Array
}

/** ATTESTATION.md §6.1: these three pass without `allowDebugMode`. */
export const PRODUCTION_FIXTURES: ReadonlySet<string> = new Set([
  'qos-mock_attestation_doc.cbor',
  'evervault-valid-attestation-doc-bytes.cbor',
  'sparsity-attestation_2.report.cbor',
])

export function readFixtureFile(relativePath: string): Uint8Array {
  return new Uint8Array(readFileSync(NITRO_FIXTURES_DIR + relativePath))
}

/** Decodes a `.b64` file with the base64 text rule, or returns raw CBOR as it is. */
export function readFixtureDocument(relativePath: string): Uint8Array {
  const bytes = readFixtureFile(relativePath)
  return relativePath.endsWith('.b64') ? decodeAttestationText(new TextDecoder().decode(bytes), 'base64') : bytes
}

/** The nine positive documents, in `fixtures.json` order. */
export function loadNitroFixtures(): NitroFixture[] {
  const facts = JSON.parse(new TextDecoder().decode(readFixtureFile('fixtures.json'))) as FixtureFacts[]
  if (facts.length !== 9) throw new Error(`expected 9 fixtures, found ${facts.length}`)
  return facts.map((entry) => ({ name: entry.file, facts: entry, document: readFixtureDocument(entry.file) }))
}
