/**
 * The enclave-mode `/status` probe of every cached peer (PROTOCOL §7.2), which fills the
 * connection fields of `/nodes`. Probes run in parallel, each bounded by 3 s and 16 KiB from
 * the request to the last byte, follow no redirect, and never fail the tick: an unreachable
 * peer is a fact to report, not an error. A redirect, or an answer past the cap or the
 * deadline, counts as unreachable.
 */
import type { Clock } from '../runtime'
import { peerEndpoint, type PeerCache } from './peerCache'
import { fetchPeer, PEER_REPLY_LIMITS, readBoundedBody } from './peerHttp'

export const STATUS_PROBE_TIMEOUT_MS = 3_000

export async function probePeers(peers: PeerCache, fetch: typeof globalThis.fetch, clock: Clock): Promise<void> {
  await Promise.all(
    peers.peers.map(async (peer) => {
      const started = clock.nowMs()
      const answer = await fetchPeer(fetch, peerEndpoint(peer.url, '/status'), { method: 'GET' }, STATUS_PROBE_TIMEOUT_MS).then(
        async ({ response, signal }) => {
          await readBoundedBody(response, PEER_REPLY_LIMITS.status, signal)
          return response.status
        },
        () => null,
      ).catch(() => null)
      const checkedAtMs = clock.nowMs()
      peers.recordProbe(peer.wallet, {
        reachable: answer !== null && answer >= 200 && answer < 300,
        httpCode: answer,
        probeMs: answer === null ? null : checkedAtMs - started,
        checkedAtMs,
      })
    }),
  )
}
