/**
 * `/kms/derive`'s epoch (PROTOCOL §2.4 checks 5–6, §7.7): the field's shape, and which
 * cluster epoch a request resolves to on a node mid-rotation.
 */
import { describe, expect, it } from 'vitest'
import { masterSecretHash } from '../../../core/crypto'
import { KeyRing } from '../../../core/keys'
import { parseDeriveRequest, resolveClusterEpoch } from '../../../functions/derive'

const SECRET_0 = new Uint8Array(32).fill(1)
const SECRET_1 = new Uint8Array(32).fill(2)

describe('derive epoch (PROTOCOL §2.4)', () => {
  it('behavior: an absent epoch is absent; cluster and app are each optional', () => {
    expect(parseDeriveRequest({ path: 'p' })).toEqual({ path: 'p', context: '', length: 32 })
    expect(parseDeriveRequest({ path: 'p', epoch: {} })).toEqual({ path: 'p', context: '', length: 32, epoch: {} })
    expect(parseDeriveRequest({ path: 'p', epoch: { cluster: 1, app: 4294967295 } }).epoch).toEqual({ cluster: 1, app: 4294967295 })
  })

  it.each([
    [null, "'epoch' must be an object"],
    [3, "'epoch' must be an object"],
    [[1], "'epoch' must be an object"],
    [{ cluster: 1, other: 2 }, "'epoch' may only have 'cluster' and 'app'"],
    [{ cluster: -1 }, "'epoch.cluster' must be an integer in 0..4294967295"],
    [{ cluster: 1.5 }, "'epoch.cluster' must be an integer in 0..4294967295"],
    [{ cluster: '1' }, "'epoch.cluster' must be an integer in 0..4294967295"],
    [{ app: 4294967296 }, "'epoch.app' must be an integer in 0..4294967295"],
    [{ app: null }, "'epoch.app' must be an integer in 0..4294967295"],
  ])('error: epoch %j is 400 bad_request %s', (epoch, message) => {
    expect(() => parseDeriveRequest({ path: 'p', epoch })).toThrow(expect.objectContaining({ code: 'bad_request', message }))
  })

  it('behavior: a node serving epoch 1 with epoch 0 live resolves each request to its epoch, and refuses retired, future and unheld ones', async () => {
    const keys = new KeyRing({ kmsAppId: 49 })
    await keys.install(SECRET_0, 'generated')
    await keys.installIfCommitted(SECRET_1, masterSecretHash(SECRET_1), 'http://peer', { epoch: 1 })
    keys.serveOn(1)
    const node = { keys, epochStatus: { current: 2, live: [1, 2], usable: [1], missing: [2], wiped: [], awaitingCommit: undefined } }
    expect(resolveClusterEpoch(undefined, node)).toBe(1)
    expect(resolveClusterEpoch(1, node)).toBe(1)
    expect(() => resolveClusterEpoch(3, node)).toThrow(expect.objectContaining({ code: 'bad_request', status: 400 }))
    expect(() => resolveClusterEpoch(0, node)).toThrow(expect.objectContaining({ code: 'epoch_retired', status: 410, message: 'Epoch 0 is retired' }))
    expect(() => resolveClusterEpoch(2, node)).toThrow(expect.objectContaining({ code: 'service_unavailable', status: 503 }))
  })

  it('error: without a secret every request is 503 master secret not initialized', () => {
    const node = { keys: new KeyRing({ kmsAppId: 49 }), epochStatus: { current: 0, live: [], usable: [], missing: [], wiped: [], awaitingCommit: undefined } }
    expect(() => resolveClusterEpoch(undefined, node)).toThrow(expect.objectContaining({ message: 'master secret not initialized' }))
  })
})
