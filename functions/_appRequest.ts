/**
 * The pipeline every authenticated `/kms/*` route shares (PROTOCOL §3, §5.6, §12.2):
 * authenticate (PoP and/or attestation), authorize against the registry, charge the
 * per-app limiter, open the envelope, counter-sign, run the route, seal the answer.
 */
import { authenticateApp, verifyAppAttestation, type AppIdentity } from '../core/auth'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { openEnvelope, sealEnvelope } from '../core/envelope'
import { jsonResponse, readJsonBody, requireEnvelope } from './_http'

export interface AppRequest {
  identity: AppIdentity
  /** The decrypted inner request; `{}` for routes without a body. */
  payload: Record<string, unknown>
}

export interface AppRouteOptions {
  /** Routes without a body (GET /kms/data) skip the envelope. */
  hasBody: boolean
  /** Tokens this request costs in the per-app limiter (§12.2). */
  weight: number
}

function header(request: Request, name: string): string | null {
  return request.headers.get(name)
}

/** Authenticates and authorizes the caller of an app route. */
export async function authenticateAppRequest(request: Request, node: KmsNode): Promise<{ identity: AppIdentity; responseSignatureSubject: string }> {
  const ownWallet = node.wallet
  if (ownWallet === undefined) throw new KmsError('service_unavailable', 'cannot read node wallet')
  const { config } = node
  return authenticateApp({
    headers: {
      signature: header(request, 'x-app-signature'),
      nonce: header(request, 'x-app-nonce'),
      timestamp: header(request, 'x-app-timestamp'),
      wallet: header(request, 'x-app-wallet'),
      attestation: header(request, 'x-nitro-attestation'),
    },
    ownWallet,
    nonces: node.nonces,
    clock: node.clock,
    popTimeoutSeconds: config.popTimeoutSeconds,
    registry: node.registry,
    verifyAttestation: (attestation, popNonce) =>
      verifyAppAttestation({
        header: attestation,
        popNonce,
        nonces: node.nonces,
        clock: node.clock,
        maxAgeSeconds: config.attestationMaxAgeSeconds,
        allowDebugMode: config.mode === 'dev',
        trustedRoot: node.trustedAttestationRoot,
      }),
  })
}

/**
 * Runs `route` for an authenticated app and answers with a sealed, counter-signed envelope.
 * The counter-signature is made before `route` runs, so a signing failure (503) leaves
 * nothing changed (§3.4).
 */
export async function handleAppRequest(
  request: Request,
  node: KmsNode,
  options: AppRouteOptions,
  route: (appRequest: AppRequest) => Promise<unknown>,
): Promise<Response> {
  const body = options.hasBody ? await readJsonBody(request, node.config.maxRequestBodyBytes) : undefined
  const { identity, responseSignatureSubject } = await authenticateAppRequest(request, node)

  const decision = node.limiters.app.take(identity.wallet, options.weight)
  if (!decision.allowed) {
    throw new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': String(decision.retryAfterSeconds) } })
  }

  const payload = options.hasBody
    ? await openEnvelope({
        tee: node.tee,
        envelope: requireEnvelope(body),
        expectedSenderDer: identity.teePubkeyDer,
        invalidPayloadMessage: 'Invalid JSON body',
      })
    : {}
  const signature = await node.tee.signMessage(`NovaKMS:Response:${responseSignatureSubject}:${node.wallet}`)
  const inner = await route({ identity, payload })
  const envelope = await sealEnvelope(node.tee, inner, identity.teePubkeyDer)
  return jsonResponse(envelope, { headers: { 'x-kms-response-signature': signature } })
}
