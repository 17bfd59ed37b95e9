/**
 * `defineAppFunction`: an authenticated `/kms/*` function (PROTOCOL §3, §5.6, §12.2). The
 * route logic sees only the decrypted inner request of an authorized app; around it, every
 * app function runs the same steps: authenticate (PoP and/or attestation), authorize
 * against the registry, charge the per-app limiter by the policy's weight, open the
 * envelope, counter-sign, run the route, seal the answer.
 */
import { authenticateApp, verifyAppAttestation, type AppIdentity, type AuthenticatedApp } from '../core/auth'
import { buildResponseMessage } from '../core/crypto'
import type { Wallet } from '../core/encoding'
import { openEnvelope, sealEnvelope } from '../core/envelope'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { defineFunction, type FunctionPolicy, type KmsFunction, type NodeView } from './_define'
import { jsonResponse, readJsonBody, requireEnvelope } from './_http'

/** What authenticating, opening and sealing read from the node. */
export type AppAuthKeys = 'identity' | 'config' | 'nonces' | 'clock' | 'registry' | 'trustedAttestationRoot' | 'limiters' | 'tee'

export interface AppRequest {
  request: Request
  identity: AppIdentity
  /** The decrypted inner request; `{}` for GET routes, which have no body. */
  payload: Record<string, unknown>
}

/** App routes are always readiness-gated, client-limited and bounded by the request limit. */
export type AppFunctionPolicy = Omit<FunctionPolicy, 'gate' | 'limiter' | 'bodyLimit'>

export type AppRoute<K extends keyof KmsNode> = (appRequest: AppRequest, node: NodeView<K | AppAuthKeys>) => Promise<unknown>

/** Authenticates and authorizes the caller of an app route (§3.1–§3.3). */
export async function authenticateAppRequest(request: Request, node: NodeView<AppAuthKeys>): Promise<AuthenticatedApp & { ownWallet: Wallet }> {
  const ownWallet = node.identity.wallet
  if (ownWallet === undefined) throw new KmsError('service_unavailable', 'cannot read node wallet')
  const { config } = node
  const header = (name: string): string | null => request.headers.get(name)
  const authenticated = await authenticateApp({
    headers: {
      signature: header('x-app-signature'),
      nonce: header('x-app-nonce'),
      timestamp: header('x-app-timestamp'),
      wallet: header('x-app-wallet'),
      attestation: header('x-nitro-attestation'),
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
  return { ...authenticated, ownWallet }
}

function weightOf(policy: AppFunctionPolicy, node: NodeView<'config'>): number {
  const { weight = 1 } = policy
  return typeof weight === 'function' ? weight(node.config) : weight
}

/**
 * Defines an app function. The counter-signature is made before `route` runs, so a signing
 * failure (503) leaves nothing changed (§3.4).
 */
export function defineAppFunction<K extends keyof KmsNode>(policy: AppFunctionPolicy, route: AppRoute<K>): KmsFunction {
  return defineFunction<K | AppAuthKeys>(
    { ...policy, gate: 'ready', limiter: 'client', bodyLimit: 'request' },
    async (request, node) => {
      const hasBody = request.method !== 'GET'
      const body = hasBody ? await readJsonBody(request, node.config.maxRequestBodyBytes) : undefined
      const { identity, responseSignatureSubject, ownWallet } = await authenticateAppRequest(request, node)

      const decision = node.limiters.app.take(identity.wallet, weightOf(policy, node))
      if (!decision.allowed) {
        throw new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': String(decision.retryAfterSeconds) } })
      }

      const payload = hasBody
        ? await openEnvelope({
            tee: node.tee,
            envelope: requireEnvelope(body),
            expectedSenderDer: identity.teePubkeyDer,
            invalidPayloadMessage: 'Invalid JSON body',
          })
        : {}
      const signature = await node.tee.signMessage(buildResponseMessage({ signature: responseSignatureSubject, wallet: ownWallet }))
      const inner = await route({ request, identity, payload }, node)
      const envelope = await sealEnvelope(node.tee, inner, identity.teePubkeyDer)
      return jsonResponse(envelope, { headers: { 'x-kms-response-signature': signature } })
    },
  )
}
