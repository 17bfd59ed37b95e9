/**
 * The SDK's identity check of a KMS node (issue 17, PROTOCOL §2.9): a node's `/status`
 * is the host's to write, so before an app trusts a node it asks for the node's Nitro
 * document, made for a fresh random nonce, and requires of it what peers require of each
 * other before the master secret moves (§4.5, seed steps 4.1–4.3): the pinned root (or a dev
 * root the caller passed explicitly), freshness, our nonce, the registry's wallet and
 * teePubkey, and the enrolled version's code measurement.
 */
import { isPeerAttestationError } from '../auth/peerAttestationError'
import { verifyResponderAttestation, type PeerAttestationPolicy } from '../auth/verifyPeerAttestation'
import type { NovaAppRegistryReader } from '../chain'
import { bytesToBase64, parseBase64 } from '../encoding'
import { isKmsError } from '../errors'
import type { Clock, Random } from '../runtime'
import type { NodeIdentityCheck } from './checkNodeIdentity'
import type { DiscoveredKmsNode } from './discoverKmsNodes'
import type { FetchFunction } from './_timedFetch'
import { KmsRegistryUnavailableError } from './runtimeErrors'

/** How a node's document is judged. The defaults are production's. */
export interface NodeAttestationPolicy {
  /**
   * The root documents must chain to. Omitted: the pinned AWS Nitro Enclaves Root-G1, the
   * only root a production app should trust. A dev root is used only when passed here.
   */
  trustedRoot?: Uint8Array
  /**
   * Accept debug-mode documents (PCR0–2 zero), as dev nodes make. Only together with an
   * explicit `trustedRoot`: no debug document is ever accepted under the AWS root.
   */
  allowDebugMode?: boolean
  /** How old a document made for our nonce may be; 60 s by default (it was made just now). */
  maxAgeMs?: number
}

export interface VerifyNodeAttestationParameters {
  node: DiscoveredKmsNode
  registry: Pick<NovaAppRegistryReader, 'getInstanceByWallet' | 'getVersion'>
  kmsAppId: number
  /** Bounded in time and bytes (the node directory's timed fetch). */
  fetch: FetchFunction
  random: Random
  clock: Clock
  policy?: NodeAttestationPolicy
}

const NONCE_BYTES = 32
const DEFAULT_MAX_AGE_MS = 60_000

/** The node did not answer usably: a transport failure, a non-2xx, or a body without a document. */
export const NODE_UNREACHABLE = 'unreachable'

/** A registry read; the chain unreadable is the client's `KmsRegistryUnavailableError`, as in discovery. */
async function readingRegistry<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    if (isKmsError(error) && error.code === 'registry_unavailable') throw new KmsRegistryUnavailableError({ cause: error })
    throw error
  }
}

/** Throws unless the policy is coherent: a debug document is never accepted under the AWS root. */
export function checkNodeAttestationPolicy(policy: NodeAttestationPolicy): void {
  if (policy.allowDebugMode === true && policy.trustedRoot === undefined) {
    throw new TypeError('allowDebugMode needs an explicit trustedRoot: debug documents are never accepted under the AWS root')
  }
}

/**
 * Fetches `/attestation?nonce=<fresh>` and checks the document against the registry.
 * @returns whether the node proved the registry identity (with the failed check), or
 * {@link NODE_UNREACHABLE} when it gave no document at all.
 * @throws what `fetch` throws for a transport failure (the directory marks the node unreachable),
 * and the registry reader's error when the chain cannot be read (fails closed: no verdict).
 */
export async function verifyNodeAttestation(params: VerifyNodeAttestationParameters): Promise<NodeIdentityCheck | typeof NODE_UNREACHABLE> {
  const { node, registry, kmsAppId, policy = {} } = params
  checkNodeAttestationPolicy(policy)
  const nonce = params.random.bytes(NONCE_BYTES)
  const response = await params.fetch(`${node.url.replace(/\/+$/, '')}/attestation?nonce=${encodeURIComponent(bytesToBase64(nonce))}`)
  if (!response.ok) return NODE_UNREACHABLE
  let body: unknown
  try {
    body = JSON.parse(await response.text())
  } catch {
    return NODE_UNREACHABLE
  }
  const text = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['attestation'] : undefined
  const document = typeof text === 'string' ? parseBase64(text) : undefined
  if (document === undefined) return { matches: false, reason: '/attestation answered without a base64 document' }

  // The version the registry enrolled for this instance, read now: the discovered list does
  // not carry it, and a version revoked a minute ago must not pass.
  const instance = await readingRegistry(() => registry.getInstanceByWallet(node.wallet))
  if (instance === undefined || instance.appId !== kmsAppId) return { matches: false, reason: 'the registry no longer lists this node' }
  const version = await readingRegistry(() => registry.getVersion(kmsAppId, instance.versionId))
  if (version === undefined) return { matches: false, reason: `version ${instance.versionId} is not in the registry` }

  const verification: PeerAttestationPolicy = {
    at: params.clock.nowMs(),
    maxAgeMs: policy.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
    trustedRoot: policy.trustedRoot,
    allowDebugMode: policy.allowDebugMode === true,
  }
  try {
    await verifyResponderAttestation({ document, nonce, peer: { wallet: node.wallet, teePubkeyDer: node.teePubkeyDer, version }, policy: verification })
  } catch (error) {
    if (isPeerAttestationError(error)) return { matches: false, reason: `attestation: ${error.check}` }
    throw error
  }
  return { matches: true }
}
