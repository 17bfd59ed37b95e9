/**
 * `GET /kms/audit?since=` and `GET /audit/cluster?since=` (PROTOCOL §14.4, §14.5): a page of
 * the caller's own chain, or of the cluster chain, with the head signed by the node when it
 * answers. Reading the log is never itself logged.
 */
import { AuditSinceAheadError, buildAuditHeadMessage, CLUSTER_CHAIN, type AuditChainId, type AuditPage } from '../core/audit'
import { bytesToHex } from '../core/encoding'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { defineAppFunction } from './_appRequest'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

/** §14.4: a decimal integer in 0..2^53−1; absent means 0. */
function parseSince(url: string): number {
  const text = new URL(url).searchParams.get('since')
  if (text === null) return 0
  const since = /^(0|[1-9]\d{0,15})$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(since)) throw new KmsError('bad_request', "Invalid 'since'")
  return since
}

/** The page after `since`, its head signed over §14.4's message. */
async function signedPage(node: Pick<KmsNode, 'audit' | 'tee' | 'identity'>, chainId: AuditChainId, since: number): Promise<AuditPage> {
  let page
  try {
    page = node.audit.page(chainId, since)
  } catch (error) {
    if (error instanceof AuditSinceAheadError) throw new KmsError('bad_request', error.message)
    throw error
  }
  const wallet = node.identity.wallet ?? (await node.tee.getWallet())
  const teePubkeyHex = bytesToHex(await node.tee.getEncryptionPublicKey())
  const { head } = page
  const headSignature = await node.tee.signMessage(
    buildAuditHeadMessage({ appId: chainId, seq: head.seq, headHash: head.hash, dropped: head.dropped, teePubkeyHex, wallet }),
  )
  return { ...page, head_signature: headSignature }
}

export const audit = defineAppFunction(
  { name: 'audit', routes: [{ path: '/kms/audit', methods: ['GET'] }] },
  ({ request, identity }, node: Pick<KmsNode, 'audit' | 'tee' | 'identity'>) => signedPage(node, identity.appId, parseSince(request.url)),
)

/** Public: the cluster chain belongs to no app (§14.5). Each answer costs a signature, hence the nonce bucket. */
export const auditCluster = defineFunction(
  { name: 'audit_cluster', routes: [{ path: '/audit/cluster', methods: ['GET'] }], gate: 'none', limiter: 'nonce', bodyLimit: 'request' },
  async (request, node: Pick<KmsNode, 'audit' | 'tee' | 'identity'>) => jsonResponse(await signedPage(node, CLUSTER_CHAIN, parseSince(request.url))),
)
