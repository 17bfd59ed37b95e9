/**
 * Loads a `test/vectors/<source>.json` file: `{ source, cases }` (STYLE "Tests"). The loader
 * fails on a missing source or an empty `cases`, so a vector file can never silently test
 * nothing; `casesOf` fails the same way for a kind with no case.
 */
import { parseHex } from '../../../core/encoding'

export interface VectorCase {
  name: string
  kind?: string
}

/** A §5.7 `record` case: a stored value under the app's data key. */
export interface RecordCase extends VectorCase {
  master_secret: string
  app_id: number
  plaintext: string
  nonce: string
  expected: string
}

/** A §5.7 `envelope_key` or `envelope_ciphertext` case (§10.2). */
export interface EnvelopeCase extends VectorCase {
  scalar: string
  peer_scalar: string
  nonce: string
  info: string
  plaintext?: string
  expected: string
}

export interface VectorFile<T extends VectorCase> {
  source: string
  cases: readonly T[]
}

export function loadVectors<T extends VectorCase>(file: unknown): VectorFile<T> {
  const { source, cases } = file as { source?: unknown; cases?: unknown }
  if (typeof source !== 'string' || source === '') throw new Error('vector file: missing source')
  if (!Array.isArray(cases) || cases.length === 0) throw new Error(`vector file (${source}): empty cases`)
  return { source, cases: cases as T[] }
}

export function casesOf<T extends VectorCase>(file: VectorFile<VectorCase>, kind: string): readonly T[] {
  const found = file.cases.filter((entry) => entry.kind === kind) as T[]
  if (found.length === 0) throw new Error(`vector file (${file.source}): no case of kind ${kind}`)
  return found
}

/** Hex from a vector file; a typo in a vector fails loudly. */
export function hex(text: string): Uint8Array {
  const bytes = parseHex(text)
  if (bytes === undefined) throw new Error('vector file: invalid hex')
  return bytes
}
