/**
 * `custodian recover`, steps 1–3 (issue 15): before a custodian's share leaves its key
 * file, the node must prove that it is a genuine enclave, alive now, and the registry must
 * list it as an ACTIVE, zkVerified instance of the KMS app on an ENROLLED version whose
 * measurement its document carries. The document-to-registry match is the one peers use
 * before the master secret moves (core/auth/verifyPeerAttestation.ts, PROTOCOL §4.5 and
 * §2.9's client check), reused, not rewritten.
 */
import { createClient, http, type Address } from 'viem'
import { readContract } from 'viem/actions'
import { isAttestationError, verifyNitroAttestation } from '../../core/attestation'
import { BoundedFetchError, fetchBounded as fetchBoundedAnswer } from '../boundedFetch'
import { isPeerAttestationError } from '../../core/auth/peerAttestationError'
import { verifyResponderAttestation } from '../../core/auth/verifyPeerAttestation'
import { createChainReaders, INSTANCE_STATUS, kmsRegistryAbi, VERSION_STATUS, type InstanceRecord } from '../../core/chain'
import { bytesToBase64, parseBase64, parseUtf8, parseWallet, type Wallet } from '../../core/encoding'
import type { Random } from '../../core/runtime'

/** A check failed: the custodian refuses, naming it (exit 1). */
export class Refusal extends Error {
  override name = 'Refusal'
}

const ATTESTATION_RESPONSE_MAX_BYTES = 64 * 1024
const FETCH_TIMEOUT_MS = 10_000
/** How old a freshly requested document may be: it was made for our nonce seconds ago. */
const MAX_DOCUMENT_AGE_MS = 60_000

/** A bounded exchange (bundle/boundedFetch.ts) whose failure refuses: a hostile node must not stall or flood the tool. */
export async function fetchBounded(url: string, init: RequestInit & { maxBytes: number }): Promise<{ status: number; body: unknown }> {
  try {
    const { signal: _signal, redirect: _redirect, ...request } = init
    const answer = await fetchBoundedAnswer(url, { ...request, timeoutMs: FETCH_TIMEOUT_MS })
    return { status: answer.status, body: answer.json }
  } catch (error) {
    if (error instanceof BoundedFetchError) throw new Refusal(error.message)
    throw error
  }
}

export interface CheckedNode {
  wallet: Wallet
  instance: InstanceRecord
  kmsAppId: number
  novaAppRegistry: Wallet
}

export interface CheckNodeParams {
  nodeUrl: string
  rpcUrl: string
  kmsRegistry: Wallet
  /** `--app-registry`: must equal KMSRegistry.novaAppRegistry(). */
  expectedAppRegistry: Wallet | undefined
  /** `--root` (dev only): trust this root instead of AWS; its documents have zero PCRs. */
  trustedRoot: Uint8Array | undefined
  random: Random
  nowMs: () => number
}

/**
 * Steps 1–3 of `recover`, in order; the first failure refuses.
 * @throws Refusal naming the failed check.
 */
export async function checkNode(params: CheckNodeParams): Promise<CheckedNode> {
  // 1. A fresh nonce: a document made for anyone else, or earlier, cannot match it.
  const nonce = params.random.bytes(32)
  const base = params.nodeUrl.replace(/\/+$/, '')
  const { status, body } = await fetchBounded(`${base}/attestation?nonce=${encodeURIComponent(bytesToBase64(nonce))}`, { maxBytes: ATTESTATION_RESPONSE_MAX_BYTES })
  const text = typeof body === 'object' && body !== null && 'attestation' in body ? (body as { attestation: unknown }).attestation : undefined
  if (status !== 200 || typeof text !== 'string') throw new Refusal(`the node's /attestation answered HTTP ${status} without a document`)
  const document = parseBase64(text)
  if (document === undefined) throw new Refusal("the node's /attestation is not base64")

  // 2. The document itself: root, chain, signature, freshness, our nonce.
  const policy = { at: params.nowMs(), maxAgeMs: MAX_DOCUMENT_AGE_MS, trustedRoot: params.trustedRoot, allowDebugMode: params.trustedRoot !== undefined }
  let attested
  try {
    attested = await verifyNitroAttestation(document, {
      at: policy.at,
      expectedNonce: nonce,
      maxAgeMs: policy.maxAgeMs,
      allowDebugMode: policy.allowDebugMode,
      ...(params.trustedRoot === undefined ? {} : { trustedRoot: params.trustedRoot }),
    })
  } catch (error) {
    if (!isAttestationError(error)) throw error
    throw new Refusal(`attestation rejected: ${error.attestationCode}`)
  }
  const userData = attested.userData === null ? undefined : parseUtf8(attested.userData)
  let claimed: unknown
  try {
    claimed = userData === undefined ? undefined : (JSON.parse(userData) as { eth_addr?: unknown }).eth_addr
  } catch {
    claimed = undefined
  }
  const wallet = typeof claimed === 'string' ? parseWallet(claimed) : undefined
  if (wallet === undefined) throw new Refusal('attestation rejected: its user_data names no eth_addr')

  // 3. The registry, read through the KMSRegistry the custodian was given.
  const client = createClient({ ccipRead: false, transport: http(params.rpcUrl, { timeout: FETCH_TIMEOUT_MS, retryCount: 0 }) })
  let novaAppRegistry: Wallet | undefined
  try {
    novaAppRegistry = parseWallet(await readContract(client, { address: params.kmsRegistry as Address, abi: kmsRegistryAbi, functionName: 'novaAppRegistry' }))
  } catch (error) {
    throw new Refusal(`cannot read KMSRegistry.novaAppRegistry(): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
  }
  if (novaAppRegistry === undefined) throw new Refusal('KMSRegistry.novaAppRegistry() is not an address')
  // The owner can repoint novaAppRegistry at a registry of its own making: a custodian who
  // knows the real one says so, and refuses any other.
  if (params.expectedAppRegistry !== undefined && params.expectedAppRegistry !== novaAppRegistry) {
    throw new Refusal(`KMSRegistry points at NovaAppRegistry ${novaAppRegistry}, not the expected ${params.expectedAppRegistry}`)
  }
  const readers = createChainReaders({ rpcUrl: params.rpcUrl, novaAppRegistry, kmsRegistry: params.kmsRegistry })
  const chain = async <T>(what: string, read: () => Promise<T>): Promise<T> => {
    try {
      return await read()
    } catch {
      throw new Refusal(`cannot read ${what} from the chain (fails closed)`)
    }
  }
  const kmsAppId = await chain('kmsAppId', () => readers.kmsRegistry.kmsAppId())
  if (kmsAppId === 0) throw new Refusal('KMSRegistry has no kmsAppId')
  const instance = await chain('the instance', () => readers.novaAppRegistry.getInstanceByWallet(wallet))
  if (instance === undefined) throw new Refusal(`node ${wallet} is not registered in NovaAppRegistry`)
  if (instance.appId !== kmsAppId) throw new Refusal(`node ${wallet} is an instance of app ${instance.appId}, not the KMS app ${kmsAppId}`)
  if (instance.status !== INSTANCE_STATUS.ACTIVE) throw new Refusal(`node ${wallet} is not ACTIVE (status ${instance.status})`)
  if (!instance.zkVerified) throw new Refusal(`node ${wallet} is not zkVerified`)
  const version = await chain('the version', () => readers.novaAppRegistry.getVersion(kmsAppId, instance.versionId))
  if (version === undefined) throw new Refusal(`node ${wallet}'s version ${instance.versionId} does not exist`)
  if (version.status !== VERSION_STATUS.ENROLLED) throw new Refusal(`node ${wallet}'s version ${instance.versionId} is not ENROLLED (status ${version.status})`)
  try {
    await verifyResponderAttestation({ document, nonce, peer: { wallet, teePubkeyDer: instance.teePubkey, version }, policy })
  } catch (error) {
    if (!isPeerAttestationError(error)) throw error
    throw new Refusal(`attestation does not match the registry: ${error.check}`)
  }
  return { wallet, instance, kmsAppId, novaAppRegistry }
}
