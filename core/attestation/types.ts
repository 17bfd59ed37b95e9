/** The verifier's input options and result (ATTESTATION.md §1). */

export interface VerifyNitroAttestationOptions {
  /** Verification time, integer ms since the epoch, from the injected `Clock`. */
  readonly at: number
  /** The document's nonce must equal it (≤ 1024 B). */
  readonly expectedNonce?: Uint8Array
  /** Bound on `at − timestamp` in ms; authentication callers must set it (PROTOCOL §3.2.2). */
  readonly maxAgeMs?: number
  /** How far `timestamp` may lie after `at`, in ms. Default 30 000. */
  readonly maxFutureSkewMs?: number
  /** Each listed PCR (index 0–31 → 48 B) must be present and equal. */
  readonly expectedPcrs?: ReadonlyMap<number, Uint8Array>
  /** Accept documents whose PCR0, PCR1 or PCR2 is zero. Default false. */
  readonly allowDebugMode?: boolean
  /** DER of the root to trust instead of the AWS Root-G1 pin: tests and dev mode only. */
  readonly trustedRoot?: Uint8Array
}

/** A decoded document. Byte fields are copies that never alias the input. */
export interface NitroAttestation {
  readonly moduleId: string
  /** ms since the epoch. */
  readonly timestamp: number
  readonly digest: 'SHA384'
  /** PCR index → 48 bytes, in ascending index order. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>
  /** The leaf certificate, DER. */
  readonly certificate: Uint8Array
  /** DER certificates, root first. */
  readonly cabundle: readonly Uint8Array[]
  /** `null` when null or absent; opaque bytes (DER, a raw point, PEM or free text). */
  readonly publicKey: Uint8Array | null
  readonly userData: Uint8Array | null
  readonly nonce: Uint8Array | null
}
