/**
 * Peer attestation, PROTOCOL §4.5: the responder's check of a requester's document and the
 * requester's check of a responder's, each failure named by its check. Documents are issued
 * by the dev root (§10.3) with chosen PCRs, wallet, key, nonce, time and `user_data`.
 */
import { describe, expect, it } from 'vitest'
import { codeMeasurement } from '../../../core/attestation'
import { PeerAttestationError } from '../../../core/auth/peerAttestationError'
import {
  verifyRequesterAttestation,
  verifyResponderAttestation,
  type AttestedPeerIdentity,
  type PeerAttestationPolicy,
} from '../../../core/auth/verifyPeerAttestation'
import { importP384PrivateKey } from '../../../core/crypto'
import { bytesToBase64, type JsonValue, type Wallet } from '../../../core/encoding'
import { devRootCertificateDer, issueDevAttestation } from '../../../core/tee'
import { seededRandom } from '../../helpers/fakeClock'
import { APP_PCRS, APP_WALLET, NODE_WALLET, NOW_S, OTHER_WALLET } from './_appAuth'

const NOW_MS = NOW_S * 1000
const POP_NONCE = bytesToBase64(new Uint8Array(16).fill(7))
const REQUEST_DIGEST = 'ab'.repeat(32)
const POLICY: PeerAttestationPolicy = { at: NOW_MS, maxAgeMs: 300_000, trustedRoot: devRootCertificateDer(), allowDebugMode: false }

async function requesterIdentity(overrides: Partial<AttestedPeerIdentity> = {}): Promise<AttestedPeerIdentity> {
  const key = await importP384PrivateKey(new Uint8Array(48).fill(0x21))
  return { wallet: APP_WALLET, teePubkeyDer: key.publicKey.der, version: { status: 0, codeMeasurement: codeMeasurement(new Map(APP_PCRS)) }, ...overrides }
}

interface DocumentOptions {
  nonce?: Uint8Array
  wallet?: Wallet
  publicKeyDer?: Uint8Array
  nowMs?: number
  pcrs?: ReadonlyMap<number, Uint8Array>
  userData?: Record<string, JsonValue>
  /** Replaces `user_data.nova_kms`; `null` leaves it out. */
  novaKms?: Record<string, JsonValue> | null
}

/** A document as a requester's helper makes it for `NODE_WALLET`'s request (§4.5), with `options` changed. */
async function requesterDocument(peer: AttestedPeerIdentity, options: DocumentOptions = {}): Promise<Uint8Array> {
  const novaKms = options.novaKms === undefined ? { v: 2, purpose: 'sync', kms_wallet: NODE_WALLET, request_digest: REQUEST_DIGEST } : options.novaKms
  return issueDevAttestation({
    request: {
      nonce: options.nonce ?? new Uint8Array(16).fill(7),
      publicKeyDer: options.publicKeyDer ?? peer.teePubkeyDer,
      userData: { ...(novaKms === null ? {} : { nova_kms: novaKms }), ...options.userData },
    },
    wallet: options.wallet ?? peer.wallet,
    teePublicKeyDer: peer.teePubkeyDer,
    nowMs: options.nowMs ?? NOW_MS - 1000,
    random: seededRandom(3),
    pcrs: options.pcrs ?? APP_PCRS,
  })
}

async function checkOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (error) {
    if (error instanceof PeerAttestationError) return error.check
    throw error
  }
  return 'passed'
}

async function asResponder(peer: AttestedPeerIdentity, document: Uint8Array | null, overrides: { requestDigest?: string | undefined; policy?: Partial<PeerAttestationPolicy> } = {}): Promise<string> {
  return checkOf(() =>
    verifyRequesterAttestation({
      header: document === null ? null : bytesToBase64(document),
      peer,
      popNonce: POP_NONCE,
      requestDigest: 'requestDigest' in overrides ? overrides.requestDigest : REQUEST_DIGEST,
      ownWallet: NODE_WALLET,
      policy: { ...POLICY, ...overrides.policy },
    }),
  )
}

describe('verifyRequesterAttestation (§4.5, seed step 4.4)', () => {
  it('behavior: the document a requester makes for this request, nonce and responder passes', async () => {
    const peer = await requesterIdentity()
    expect(await asResponder(peer, await requesterDocument(peer))).toBe('passed')
  })

  it('error: each deviation is refused by the check that names it', async () => {
    const peer = await requesterIdentity()
    const otherKey = (await importP384PrivateKey(new Uint8Array(48).fill(0x33))).publicKey.der
    const cases: [string, Promise<string>][] = [
      ['missing', asResponder(peer, null)],
      ['wallet mismatch', asResponder(peer, await requesterDocument(peer, { wallet: OTHER_WALLET }))],
      ['public key mismatch', asResponder(peer, await requesterDocument(peer, { publicKeyDer: otherKey }))],
      ['measurement mismatch', asResponder(peer, await requesterDocument(peer, { pcrs: new Map([[0, new Uint8Array(48).fill(9)], [1, new Uint8Array(48).fill(2)], [2, new Uint8Array(48).fill(3)]]) }))],
      ['missing nova_kms', asResponder(peer, await requesterDocument(peer, { novaKms: null }))],
      ['wrong purpose', asResponder(peer, await requesterDocument(peer, { novaKms: { v: 2, purpose: 'recovery', kms_wallet: NODE_WALLET, request_digest: REQUEST_DIGEST } }))],
      ['wrong purpose', asResponder(peer, await requesterDocument(peer, { novaKms: { v: 1, purpose: 'sync', kms_wallet: NODE_WALLET, request_digest: REQUEST_DIGEST } }))],
      ['not for this node', asResponder(peer, await requesterDocument(peer, { novaKms: { v: 2, purpose: 'sync', kms_wallet: OTHER_WALLET, request_digest: REQUEST_DIGEST } }))],
      ['request digest mismatch', asResponder(peer, await requesterDocument(peer, { novaKms: { v: 2, purpose: 'sync', kms_wallet: NODE_WALLET, request_digest: 'cd'.repeat(32) } }))],
      // A v1 request has no digest: no document can match it.
      ['request digest mismatch', asResponder(peer, await requesterDocument(peer), { requestDigest: undefined })],
      // Another nonce: a replay, or a document made for another request.
      ['ATTESTATION_NONCE_MISMATCH', asResponder(peer, await requesterDocument(peer, { nonce: new Uint8Array(16).fill(8) }))],
      ['ATTESTATION_TOO_OLD', asResponder(peer, await requesterDocument(peer, { nowMs: NOW_MS - 301_000 }))],
      ['ATTESTATION_TIMESTAMP_IN_FUTURE', asResponder(peer, await requesterDocument(peer, { nowMs: NOW_MS + 16_000 }))],
      // Zero PCRs are debug mode: refused unless the policy is dev mode's.
      ['ATTESTATION_DEBUG_MODE', asResponder(peer, await requesterDocument(peer, { pcrs: new Map() }))],
      // The dev root is trusted only where the policy says so: enclave mode pins AWS.
      ['ATTESTATION_ROOT_UNTRUSTED', asResponder(peer, await requesterDocument(peer), { policy: { trustedRoot: undefined } })],
      ['ATTESTATION_INPUT_ENCODING', checkOf(() => verifyRequesterAttestation({ header: '***', peer, popNonce: POP_NONCE, requestDigest: REQUEST_DIGEST, ownWallet: NODE_WALLET, policy: POLICY }))],
    ]
    for (const [expected, outcome] of cases) expect(await outcome).toBe(expected)
  })

  it("error: a DEPRECATED requester is refused before its document is read ('version not enrolled')", async () => {
    const peer = await requesterIdentity({ version: { status: 1, codeMeasurement: codeMeasurement(new Map(APP_PCRS)) } })
    expect(await asResponder(peer, await requesterDocument(peer))).toBe('version not enrolled')
    expect(await asResponder(peer, null)).toBe('version not enrolled')
  })

  it('behavior: the wire form is 403 unauthorized with a stable message', async () => {
    const peer = await requesterIdentity()
    const failure = await verifyRequesterAttestation({ header: null, peer, popNonce: POP_NONCE, requestDigest: REQUEST_DIGEST, ownWallet: NODE_WALLET, policy: POLICY }).catch((error: unknown) => error)
    expect((failure as PeerAttestationError).toBody()).toEqual({ code: 'unauthorized', message: 'Peer attestation required' })
    expect((failure as PeerAttestationError).status).toBe(403)
    const mismatch = await verifyRequesterAttestation({ header: bytesToBase64(await requesterDocument(peer, { wallet: OTHER_WALLET })), peer, popNonce: POP_NONCE, requestDigest: REQUEST_DIGEST, ownWallet: NODE_WALLET, policy: POLICY }).catch((error: unknown) => error)
    expect((mismatch as PeerAttestationError).toBody()).toEqual({ code: 'unauthorized', message: 'Peer attestation rejected: wallet mismatch' })
  })

  it('behavior: in dev mode, zero PCRs pass when the registry enrolls their measurement', async () => {
    const zeroPcrs = new Map([0, 1, 2].map((index) => [index, new Uint8Array(48)] as const))
    const peer = await requesterIdentity({ version: { status: 0, codeMeasurement: codeMeasurement(zeroPcrs) } })
    const document = await requesterDocument(peer, { pcrs: new Map() })
    expect(await asResponder(peer, document, { policy: { allowDebugMode: true } })).toBe('passed')
    expect(await asResponder(peer, document)).toBe('ATTESTATION_DEBUG_MODE')
  })
})

describe('verifyResponderAttestation (§4.5, seed steps 4.1–4.3)', () => {
  const nonce = new Uint8Array(32).fill(5)
  const asRequester = (peer: AttestedPeerIdentity, document: Uint8Array, policy: Partial<PeerAttestationPolicy> = {}): Promise<string> =>
    checkOf(() => verifyResponderAttestation({ document, nonce, peer, policy: { ...POLICY, ...policy } }))

  it("behavior: a responder's public document for our fresh nonce passes, with or without nova_kms; ENROLLED and DEPRECATED alike", async () => {
    const peer = await requesterIdentity()
    expect(await asRequester(peer, await requesterDocument(peer, { nonce, novaKms: null }))).toBe('passed')
    const deprecated = { ...peer, version: { ...peer.version, status: 1 } }
    expect(await asRequester(deprecated, await requesterDocument(deprecated, { nonce, novaKms: null }))).toBe('passed')
  })

  it('error: another nonce, wallet, key, measurement or root is refused, and so is a REVOKED version', async () => {
    const peer = await requesterIdentity()
    const otherKey = (await importP384PrivateKey(new Uint8Array(48).fill(0x44))).publicKey.der
    expect(await asRequester(peer, await requesterDocument(peer, { novaKms: null }))).toBe('ATTESTATION_NONCE_MISMATCH')
    expect(await asRequester(peer, await requesterDocument(peer, { nonce, wallet: OTHER_WALLET }))).toBe('wallet mismatch')
    expect(await asRequester(peer, await requesterDocument(peer, { nonce, publicKeyDer: otherKey }))).toBe('public key mismatch')
    expect(await asRequester({ ...peer, version: { status: 0, codeMeasurement: new Uint8Array(32) } }, await requesterDocument(peer, { nonce }))).toBe('measurement mismatch')
    expect(await asRequester(peer, await requesterDocument(peer, { nonce }), { trustedRoot: undefined })).toBe('ATTESTATION_ROOT_UNTRUSTED')
    expect(await asRequester({ ...peer, version: { ...peer.version, status: 2 } }, await requesterDocument(peer, { nonce }))).toBe('version not enrolled')
  })
})
