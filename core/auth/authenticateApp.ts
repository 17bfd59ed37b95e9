/**
 * App authentication for `/kms/*` (PROTOCOL §3): PoP, Nitro attestation, or both, followed
 * by registry authorization once. The result says what the response counter-signature
 * (§3.4) must cover.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import { authorizeApp, type AppIdentity, type AppRegistryView } from './authorizeApp'
import type { AttestedWallet } from './verifyAppAttestation'
import { inlineSignatureWork, type SignatureWork } from '../crypto'
import { verifyPopAsync, type VerifyPopParams } from './verifyPop'

export interface AppAuthHeaders {
  signature: string | null
  nonce: string | null
  timestamp: string | null
  wallet: string | null
  attestation: string | null
}

export interface AuthenticatedApp {
  identity: AppIdentity
  /** `<X-App-Signature verbatim>` or the attestation's SHA-256 hex (§3.4). */
  responseSignatureSubject: string
}

export interface AuthenticateAppParams extends Omit<VerifyPopParams, 'purpose' | 'headers' | 'requestDigest'> {
  headers: AppAuthHeaders
  registry: AppRegistryView
  /** v2 (§3.5): the digest of this request; PoP and attestation must both cover it. */
  requestDigest: string | undefined
  /** `MIN_APP_AUTH_VERSION`: at 2, an attestation without `nova_kms` is refused. */
  minAppAuthVersion: 1 | 2
  /** KMS instances are peers, never apps (L2): their documents must not open `/kms/*`. */
  kmsAppId: number
  /**
   * Verifies `X-Nitro-Attestation` through §3.2.2 steps 1–3. `popNonce` is the nonce the PoP
   * check already consumed, which satisfies step 2 when the document carries the same one.
   */
  verifyAttestation(header: string, popNonce: string | undefined): Promise<AttestedWallet>
  /** Where the PoP signature is recovered (a worker pool under Node); inline by default. */
  signatures?: SignatureWork
}

function missingHeaders(): KmsError {
  return new KmsError('unauthorized', 'Missing PoP authentication headers')
}

/**
 * `user_data.nova_kms` (§3.5): a document names the node it is for, so a document made for
 * one node (or a node's public /attestation document, which has no `nova_kms`) cannot open
 * another. When the document alone authenticates a v2 request, it must also carry the
 * request's digest.
 */
function checkAttestationBinding(attested: AttestedWallet, params: AuthenticateAppParams, attestationOnly: boolean): void {
  const binding = attested.novaKms
  if (binding === undefined) {
    if (attestationOnly && (params.requestDigest !== undefined || params.minAppAuthVersion === 2)) {
      throw new KmsError('unauthorized', 'Attestation rejected: missing nova_kms binding')
    }
    return
  }
  if (binding.kmsWallet !== params.ownWallet) throw new KmsError('unauthorized', 'Attestation rejected: nova_kms is for another node')
  if (attestationOnly && params.requestDigest !== undefined && (binding.v !== 2 || binding.requestDigest !== params.requestDigest)) {
    throw new KmsError('unauthorized', 'Request binding mismatch')
  }
}

/**
 * @throws KmsError 403 `unauthorized` / `measurement_mismatch`, 503 `registry_unavailable`,
 *   400 `bad_request` (no usable teePubkey).
 */
export async function authenticateApp(params: AuthenticateAppParams): Promise<AuthenticatedApp> {
  const { headers, registry } = params
  const popParts = [headers.signature, headers.nonce, headers.timestamp].filter((value) => value !== null).length
  if (popParts !== 0 && popParts !== 3) throw missingHeaders()
  if (popParts === 0 && headers.attestation === null) throw missingHeaders()

  let popWallet: Wallet | undefined
  if (popParts === 3) {
    popWallet = await verifyPopAsync({
      ...params,
      signatures: params.signatures ?? inlineSignatureWork,
      purpose: 'AppAuth',
      headers: { signature: headers.signature!, nonce: headers.nonce!, timestamp: headers.timestamp!, wallet: headers.wallet },
      ...(params.requestDigest === undefined ? {} : { requestDigest: params.requestDigest }),
    })
  }
  let attested: AttestedWallet | undefined
  if (headers.attestation !== null) {
    attested = await params.verifyAttestation(headers.attestation, popWallet === undefined ? undefined : headers.nonce!)
    if (popWallet !== undefined && attested.wallet !== popWallet) {
      throw new KmsError('unauthorized', 'Attestation wallet does not match PoP signer')
    }
    checkAttestationBinding(attested, params, popWallet === undefined)
  }
  const wallet = popWallet ?? attested!.wallet
  const identity = await authorizeApp(wallet, registry)
  if (identity.appId === params.kmsAppId) throw new KmsError('forbidden', 'KMS instances cannot call /kms/*')
  if (attested !== undefined && bytesToHex(attested.codeMeasurement) !== bytesToHex(identity.codeMeasurement)) {
    throw new KmsError('measurement_mismatch', 'Code measurement does not match registry')
  }
  const responseSignatureSubject =
    popWallet !== undefined ? headers.signature! : bytesToHex(sha256(attested!.document))
  return { identity, responseSignatureSubject }
}
