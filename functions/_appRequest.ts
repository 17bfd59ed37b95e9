/**
 * `defineAppFunction`: an authenticated `/kms/*` function (PROTOCOL §3, §5.6, §12.2). The
 * route logic sees only the decrypted inner request of an authorized app; around it, every
 * app function runs the same steps:
 *
 * 1. the binding version, and for v2 the request digest, from the headers (§3.5);
 * 2. authentication (PoP and/or attestation) and registry authorization, from the headers
 *    alone, **before a byte of the body is read** (M2: a stranger cannot make the node
 *    buffer its body);
 * 3. the body, within the limit, checked against `X-App-Content-SHA256` in v2;
 * 4. the per-app limiter, by the policy's weight;
 * 5. the envelope opened, the route run, the answer sealed;
 * 6. v1: the counter-signature over the request signature, made before the route runs, so a
 *    signing failure (503) changes nothing (§3.4). v2: every answer after authentication,
 *    errors included, carries `X-KMS-Response-Binding` over its status and exact body.
 */
import { isAttestationError } from '../core/attestation'
import type { AuditOp } from '../core/audit'
import { authenticateApp, readRequestBinding, verifyAppAttestation, type AppIdentity, type AuthenticatedApp, type RequestBinding } from '../core/auth'
import { buildResponseBindingMessage, buildResponseMessage, computeContentSha256 } from '../core/crypto'
import { utf8ToBytes, type Wallet } from '../core/encoding'
import { openEnvelope, sealEnvelope } from '../core/envelope'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { defineFunction, type FunctionPolicy, type KmsFunction, type NodeView } from './_define'
import { parseJsonText, readBodyBytes, requireEnvelope } from './_http'

/** What authenticating, opening and sealing read from the node. */
export type AppAuthKeys = 'identity' | 'config' | 'nonces' | 'clock' | 'registry' | 'trustedAttestationRoot' | 'limiters' | 'tee' | 'log' | 'admission' | 'audit' | 'metrics' | 'signatures'

export interface AppRequest {
  request: Request
  identity: AppIdentity
  /** The decrypted inner request; `{}` for GET routes, which have no body. */
  payload: Record<string, unknown>
  /**
   * Names what this request releases, for the app's audit chain (§14.2). The pipeline appends
   * it only once the route has returned, so a refusal or an error is never logged.
   */
  audit(op: AuditOp): void
}

/** App routes are always readiness-gated, client-limited and bounded by the request limit. */
export type AppFunctionPolicy = Omit<FunctionPolicy, 'gate' | 'limiter' | 'bodyLimit'>

export type AppRoute<K extends keyof KmsNode> = (appRequest: AppRequest, node: NodeView<K | AppAuthKeys>) => Promise<unknown>

interface AuthenticatedRequest extends AuthenticatedApp {
  ownWallet: Wallet
  binding: RequestBinding
}

/**
 * The check an app's document failed, as a bounded `reason` label (§2.8): the verifier's code
 * (ATTESTATION.md §4), or the §3.2.2 step's reason after `Attestation rejected: `.
 */
function attestationFailureReason(error: unknown): string {
  if (isAttestationError(error)) return error.attestationCode
  const prefix = 'Attestation rejected: '
  if (error instanceof KmsError && error.message.startsWith(prefix)) return error.message.slice(prefix.length)
  return 'other'
}

/** Authenticates and authorizes the caller of an app route from its headers (§3.1–§3.3, §3.5). */
export async function authenticateAppRequest(request: Request, node: NodeView<AppAuthKeys>): Promise<AuthenticatedRequest> {
  const ownWallet = node.identity.wallet
  if (ownWallet === undefined) throw new KmsError('service_unavailable', 'cannot read node wallet')
  const { config } = node
  const binding = readRequestBinding({
    request,
    versionHeader: 'x-app-auth-version',
    instanceUrl: node.identity.instanceUrl,
    minVersion: config.minAppAuthVersion,
  })
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
    requestDigest: binding.v2?.requestDigest,
    minAppAuthVersion: config.minAppAuthVersion,
    kmsAppId: config.kmsAppId,
    signatures: node.signatures,
    verifyAttestation: (attestation, popNonce) =>
      verifyAppAttestation({
        header: attestation,
        popNonce,
        nonces: node.nonces,
        clock: node.clock,
        maxAgeSeconds: config.attestationMaxAgeSeconds,
        allowDebugMode: config.mode === 'dev',
        trustedRoot: node.trustedAttestationRoot,
      }).catch((error: unknown) => {
        node.metrics.recordAttestationFailure('app', attestationFailureReason(error))
        throw error
      }),
  })
  return { ...authenticated, ownWallet, binding }
}

function weightOf(policy: AppFunctionPolicy, node: NodeView<'config'>): number {
  const { weight = 1 } = policy
  return typeof weight === 'function' ? weight(node.config) : weight
}

/** Step 3: the body within the limit; in v2 it must be the one the PoP covers. */
async function readBoundBody(request: Request, node: NodeView<'config' | 'admission'>, binding: RequestBinding): Promise<unknown> {
  const bytes = await readBodyBytes(request, node.config.maxRequestBodyBytes, node.admission)
  if (binding.v2 !== undefined && computeContentSha256(bytes) !== binding.v2.contentSha256) {
    throw new KmsError('unauthorized', 'Request binding mismatch')
  }
  if (request.method === 'GET') {
    // A GET has no body; in v2 one would be bytes the route ignores but the PoP covered.
    if (binding.version === 2 && bytes.length > 0) throw new KmsError('bad_request', 'Unexpected body')
    return undefined
  }
  return parseJsonText(new TextDecoder('utf-8', { fatal: false }).decode(bytes), 'Invalid JSON body')
}

/**
 * An answer before it becomes a Response: the exact body bytes are at hand, so binding v2 can
 * hash and sign them without reading a Response back (which would build the runtime's full
 * Response and a stream just to get bytes this code made).
 */
interface Answer {
  status: number
  /** JSON text, well-formed UTF-16 (JSON.stringify escapes lone surrogates), sent as UTF-8. */
  body: string
  headers: Record<string, string>
}

function jsonAnswer(value: unknown, status = 200, headers: Record<string, string> = {}): Answer {
  return { status, body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...headers } }
}

function toResponse({ status, body, headers }: Answer): Response {
  return new Response(body, { status, headers })
}

/** Maps an error after authentication to its answer, as the pipeline's mapper (errorResponse) would. */
function answerForError(error: unknown, node: NodeView<'log'>): Answer {
  if (!(error instanceof KmsError && error.status !== 500)) {
    node.log('error', 'unhandled error', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  }
  const refusal = error instanceof KmsError ? error : new KmsError('internal_error', 'Internal server error')
  return jsonAnswer(refusal.toBody(), refusal.status, refusal.headers)
}

/**
 * Binding v2 (§3.5): the answer, whatever its status, signed over its status and exact body.
 * @throws KmsError 503 when the helper cannot sign: the answer would be unbound.
 */
async function bindResponse(answer: Answer, subject: string, ownWallet: Wallet, node: NodeView<'tee'>): Promise<Response> {
  const message = buildResponseBindingMessage({ subject, wallet: ownWallet, status: answer.status, bodySha256: computeContentSha256(utf8ToBytes(answer.body)) })
  const binding = await node.tee.signMessage(message)
  return toResponse({ ...answer, headers: { ...answer.headers, 'x-kms-response-binding': binding } })
}

/** Defines an app function. */
export function defineAppFunction<K extends keyof KmsNode>(policy: AppFunctionPolicy, route: AppRoute<K>): KmsFunction {
  return defineFunction<K | AppAuthKeys>(
    { ...policy, gate: 'ready', limiter: 'client', bodyLimit: 'request' },
    async (request, node) => {
      const { identity, responseSignatureSubject, ownWallet, binding } = await authenticateAppRequest(request, node)
      const run = async (): Promise<Answer> => {
        const body = await readBoundBody(request, node, binding)
        const decision = node.limiters.app.take(identity.wallet, weightOf(policy, node))
        if (!decision.allowed) {
          throw new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': String(decision.retryAfterSeconds) } })
        }
        const payload =
          body === undefined
            ? {}
            : await openEnvelope({
                tee: node.tee,
                envelope: requireEnvelope(body),
                expectedSenderDer: identity.teePubkeyDer,
                invalidPayloadMessage: 'Invalid JSON body',
              })
        const counterSignature =
          binding.version === 1 ? await node.tee.signMessage(buildResponseMessage({ signature: responseSignatureSubject, wallet: ownWallet })) : undefined
        let released: AuditOp | undefined
        const inner = await route({ request, identity, payload, audit: (op) => (released = op) }, node)
        // Appended as soon as the route has succeeded, before sealing: a put or delete has
        // already changed the store, and a failure to seal or sign afterwards must not hide
        // it (a derive whose answer then fails is logged too: the log errs on the side of
        // reporting a release, never of missing one).
        const requestId = node.audit.newRequestId()
        if (released !== undefined) node.audit.append(identity.appId, requestId, released)
        const envelope = await sealEnvelope(node.tee, inner, identity.teePubkeyDer)
        const headers: Record<string, string> = { 'x-kms-request-id': requestId }
        if (counterSignature !== undefined) headers['x-kms-response-signature'] = counterSignature
        return jsonAnswer(envelope, 200, headers)
      }
      // v1: a refusal goes to the pipeline's error mapper unsigned, as before binding v2.
      if (binding.version === 1) return toResponse(await run())
      const response = await run().catch((error: unknown) => answerForError(error, node))
      return bindResponse(response, responseSignatureSubject, ownWallet, node)
    },
  )
}
