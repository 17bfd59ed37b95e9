/**
 * `POST /kms/derive` (PROTOCOL §2.4): a deterministic per-app key, HKDF from the master
 * secret (§5.2), which only the key ring holds.
 */
import { bytesToBase64, utf8Length } from '../core/encoding'
import { KmsError } from '../core/errors'
import { epochNotHeld, MAX_EPOCH, notReady } from '../core/keys'
import type { KmsNode } from '../core/node'
import { defineAppFunction } from './_appRequest'

const MAX_LENGTH = 1024
/**
 * HKDF `info` is `path` or `path:context` (§5.2); WebCrypto refuses an info over 1024 bytes
 * in some runtimes, so the boundary refuses it first with a 400 (L1), the same everywhere.
 */
const MAX_INFO_BYTES = 1024

function badRequest(message: string): KmsError {
  return new KmsError('bad_request', message)
}

/** The epochs a derive names (§2.4, §7.7); an absent member means "current". */
export interface RequestedEpoch {
  cluster?: number
  app?: number
}

function parseEpochNumber(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_EPOCH) throw badRequest(`'epoch.${name}' must be an integer in 0..4294967295`)
  return value
}

/** §2.4 check 5: `epoch` is absent or an object with only `cluster` and `app`, each an epoch number. */
function parseRequestedEpoch(value: unknown): RequestedEpoch | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest("'epoch' must be an object")
  const fields = value as Record<string, unknown>
  const unknownField = Object.keys(fields).find((name) => name !== 'cluster' && name !== 'app')
  if (unknownField !== undefined) throw badRequest("'epoch' may only have 'cluster' and 'app'")
  const cluster = parseEpochNumber(fields['cluster'], 'cluster')
  const app = parseEpochNumber(fields['app'], 'app')
  return { ...(cluster === undefined ? {} : { cluster }), ...(app === undefined ? {} : { app }) }
}

/** §2.4 checks 1–5, in order. Only an absent field takes its default; `null` is not absent. */
export function parseDeriveRequest(payload: Record<string, unknown>): { path: string; context: string; length: number; epoch?: RequestedEpoch } {
  const { path, context = '', length = 32 } = payload
  if (typeof path !== 'string' || path.trim() === '') throw badRequest("Missing 'path' field")
  if (typeof context !== 'string') throw badRequest("'context' must be a string")
  let parsedLength: number
  if (typeof length === 'number' && Number.isInteger(length)) parsedLength = length
  else if (typeof length === 'string' && /^\d+$/.test(length)) parsedLength = Number(length)
  else throw badRequest("'length' must be an integer")
  if (parsedLength < 1 || parsedLength > MAX_LENGTH) throw badRequest(`'length' must be in range 1..${MAX_LENGTH}`)
  if (utf8Length(context === '' ? path : `${path}:${context}`) > MAX_INFO_BYTES) {
    throw badRequest(`'path' and 'context' must be at most ${MAX_INFO_BYTES} bytes together`)
  }
  const epoch = parseRequestedEpoch(payload['epoch'])
  return { path, context, length: parsedLength, ...(epoch === undefined ? {} : { epoch }) }
}

/**
 * The cluster epoch a derive uses (§7.7): the one named, or the serving epoch. One ahead of
 * the chain's current is a 400; one the chain has retired, 410 `epoch_retired`; a live one
 * this node does not hold (yet), 503.
 */
export function resolveClusterEpoch(requested: number | undefined, node: Pick<KmsNode, 'keys' | 'epochStatus'>): number {
  const serving = node.keys.servingEpoch
  if (serving === undefined) throw notReady()
  if (requested === undefined || requested === serving) return serving
  const { current, live } = node.epochStatus
  if (requested > current) throw badRequest(`'epoch.cluster' ${requested} is ahead of the current epoch ${current}`)
  if (!live.includes(requested)) throw new KmsError('epoch_retired', `Epoch ${requested} is retired`)
  if (!node.keys.holds(requested)) throw epochNotHeld(requested)
  return requested
}

export const derive = defineAppFunction(
  { name: 'derive', routes: [{ path: '/kms/derive', methods: ['POST'] }] },
  async ({ identity, payload, audit }, node: Pick<KmsNode, 'keys' | 'epochStatus' | 'appKeyEpoch'>) => {
    const { path, context, length, epoch } = parseDeriveRequest(payload)
    const clusterEpoch = resolveClusterEpoch(epoch?.cluster, node)
    // The app's key epoch is the chain's (§9.1 appKeyEpoch), read through a short cache; an
    // unreadable chain fails closed with 503 `registry_unavailable`.
    const currentAppEpoch = await node.appKeyEpoch(identity.appId)
    const appEpoch = epoch?.app ?? currentAppEpoch
    if (appEpoch > currentAppEpoch) throw badRequest(`'epoch.app' ${appEpoch} is ahead of the app's key epoch ${currentAppEpoch}`)
    const key = await node.keys.deriveAppKey({ appId: identity.appId, path, context, length, clusterEpoch, appEpoch })
    audit({ op: 'derive', path, context, length, epoch: { cluster: clusterEpoch, app: appEpoch } })
    return { app_id: identity.appId, path, key: bytesToBase64(key), length, epoch: { cluster: clusterEpoch, app: appEpoch } }
  },
)
