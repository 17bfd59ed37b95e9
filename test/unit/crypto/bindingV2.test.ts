import { describe, expect, test } from 'vitest'
import { readRequestBinding, requestTarget } from '../../../core/auth/requestBinding'
import {
  buildAppAuthMessageV2,
  buildPeerAuthMessageV2,
  buildResponseBindingMessage,
  computeContentSha256,
  computeRequestDigest,
  computeSyncSignature,
  deriveSyncKey,
  hmacSha256,
  privateKeyToWallet,
  recoverMessageSigner,
  signMessageWithKey,
  verifySyncSignature,
} from '../../../core/crypto'
import { bytesToHex, canonicalJson, utf8ToBytes, type JsonValue, type Wallet } from '../../../core/encoding'
import bindingV2 from '../../vectors/protocol-5.7-binding-v2.json'
import protocol from '../../vectors/protocol-5.7.json'
import { casesOf, hex, loadVectors, type VectorCase } from './_vectors'

interface BodyCase extends VectorCase {
  body: string
  expected: string
}
interface DigestCase extends VectorCase {
  method: string
  target: string
  content_sha256: string
  preimage: string
  expected: string
}
interface AuthV2Case extends VectorCase {
  nonce: string
  wallet: Wallet
  timestamp: number
  request_digest: string
  expected: string
}
interface BindingCase extends VectorCase {
  subject: string
  wallet: Wallet
  status: number
  body_sha256: string
  expected: string
}
interface SignatureCase extends VectorCase {
  private_key: string
  message: string
  signer: Wallet
  expected: string
}
interface TargetCase extends VectorCase {
  instance_url: string
  url: string
  expected: string
}
interface SyncKeyCase extends VectorCase {
  master_secret: string
  expected: string
}
interface HmacCase extends VectorCase {
  sync_key: string
  envelope: JsonValue
  canonical: string
  expected: string
}
interface HmacV2Case extends VectorCase {
  sync_key: string
  nonce: string
  envelope: JsonValue
  mac_input: string
  expected: string
}

const vectors = loadVectors(bindingV2)
const KINDS = [
  'content_sha256',
  'request_digest',
  'app_auth_message_v2',
  'peer_auth_message_v2',
  'response_binding_message',
  'eip191_signature',
  'request_target',
  'sync_key',
  'sync_hmac',
  'sync_hmac_v2',
]

function named<T extends VectorCase>(name: string): T {
  const found = vectors.cases.find((entry) => entry.name === name)
  if (found === undefined) throw new Error(`vector file (${vectors.source}): no case named ${name}`)
  return found as T
}

describe('binding v2 vectors (PROTOCOL §3.5, §3.6, §5.7 "Binding v2")', () => {
  test('behavior: the file names its source, and every kind in it is checked here', () => {
    expect(vectors.source).toMatch(/^PROTOCOL\.md §5\.7 "Binding v2"/)
    expect(new Set(vectors.cases.map((entry) => entry.kind))).toEqual(new Set(KINDS))
    expect(vectors.cases).toHaveLength(21)
  })

  test.each(casesOf<BodyCase>(vectors, 'content_sha256'))('vector: content_sha256 of the $name', ({ body, expected }) => {
    expect(computeContentSha256(utf8ToBytes(body))).toBe(expected)
  })

  test.each(casesOf<DigestCase>(vectors, 'request_digest'))('vector: $name', ({ method, target, content_sha256, preimage, expected }) => {
    expect(preimage).toBe(`${method}\n${target}\n${content_sha256}`)
    expect(computeRequestDigest({ method, target, contentSha256: content_sha256 })).toBe(expected)
    // METHOD is uppercased by the code: a lowercase method gives the same digest.
    expect(computeRequestDigest({ method: method.toLowerCase(), target, contentSha256: content_sha256 })).toBe(expected)
  })

  test.each(casesOf<AuthV2Case>(vectors, 'app_auth_message_v2'))('vector: $name', ({ nonce, wallet, timestamp, request_digest, expected }) => {
    expect(buildAppAuthMessageV2({ nonce, wallet, timestamp, requestDigest: request_digest })).toBe(expected)
  })

  test.each(casesOf<AuthV2Case>(vectors, 'peer_auth_message_v2'))('vector: $name', ({ nonce, wallet, timestamp, request_digest, expected }) => {
    expect(buildPeerAuthMessageV2({ nonce, wallet, timestamp, requestDigest: request_digest })).toBe(expected)
  })

  test.each(casesOf<BindingCase>(vectors, 'response_binding_message'))('vector: $name', ({ subject, wallet, status, body_sha256, expected }) => {
    expect(buildResponseBindingMessage({ subject, wallet, status, bodySha256: body_sha256 })).toBe(expected)
  })

  test.each(casesOf<SignatureCase>(vectors, 'eip191_signature'))('vector: $name', ({ private_key, message, signer, expected }) => {
    expect(privateKeyToWallet(hex(private_key))).toBe(signer)
    const signature = signMessageWithKey(hex(private_key), message)
    expect(signature).toBe(expected)
    expect(signature).toMatch(/^0x[0-9a-f]{128}0[01]$/)
    expect(recoverMessageSigner(message, signature)).toBe(signer)
    // The same r ‖ s with v + 27 (as app tools sign) recovers the same wallet.
    const v27 = (Number.parseInt(signature.slice(130), 16) + 27).toString(16)
    expect(recoverMessageSigner(message, signature.slice(0, 130) + v27)).toBe(signer)
  })

  test.each(casesOf<TargetCase>(vectors, 'request_target'))('vector: $name', ({ instance_url, url, expected }) => {
    expect(requestTarget(new URL(url), instance_url)).toBe(expected)
  })

  test.each(casesOf<SyncKeyCase>(vectors, 'sync_key'))('vector: $name', async ({ master_secret, expected }) => {
    expect(bytesToHex(await deriveSyncKey(hex(master_secret)))).toBe(expected)
  })

  test.each(casesOf<HmacCase>(vectors, 'sync_hmac'))('vector: $name', async ({ sync_key, envelope, canonical, expected }) => {
    expect(canonicalJson(envelope)).toBe(canonical)
    expect(await computeSyncSignature(hex(sync_key), envelope)).toBe(expected)
    expect(bytesToHex(await hmacSha256(hex(sync_key), utf8ToBytes(canonical)))).toBe(expected)
  })

  test.each(casesOf<HmacV2Case>(vectors, 'sync_hmac_v2'))('vector: $name', async ({ sync_key, nonce, envelope, mac_input, expected }) => {
    const syncKey = hex(sync_key)
    expect(mac_input).toBe(`${nonce}\n${canonicalJson(envelope)}`)
    expect(await computeSyncSignature(syncKey, envelope, nonce)).toBe(expected)
    expect(bytesToHex(await hmacSha256(syncKey, utf8ToBytes(mac_input)))).toBe(expected)
    expect(await verifySyncSignature({ syncKey, body: envelope, signature: expected, nonce })).toBe(true)
    // v1 and v2 MACs of one envelope differ, and neither verifies as the other.
    expect(await verifySyncSignature({ syncKey, body: envelope, signature: expected })).toBe(false)
    const v1 = casesOf<HmacCase>(vectors, 'sync_hmac')[0]!
    expect(v1.envelope).toEqual(envelope)
    expect(v1.expected).not.toBe(expected)
    expect(await verifySyncSignature({ syncKey, body: envelope, signature: v1.expected, nonce })).toBe(false)
  })

  test('behavior: the request/answer cases chain (each input is the output it names)', () => {
    const body = (name: string) => named<BodyCase>(name).expected
    const derive = named<DigestCase>('derive request digest')
    expect(derive.content_sha256).toBe(body('derive request body'))
    const appPop = named<AuthV2Case>('app PoP message v2')
    expect(appPop.request_digest).toBe(derive.expected)
    const appSignature = named<SignatureCase>('app PoP v2 signature (X-App-Signature)')
    expect(appSignature.message).toBe(appPop.expected)
    const binding = named<BindingCase>('response binding message')
    expect(binding).toMatchObject({ subject: appSignature.expected, wallet: appPop.wallet, body_sha256: body('derive response body') })
    const bindingSignature = named<SignatureCase>('response binding signature (X-KMS-Response-Binding)')
    expect(bindingSignature).toMatchObject({ message: binding.expected, signer: appPop.wallet })

    const get = named<DigestCase>('GET /kms/data?key=a%20b request digest')
    expect(get).toMatchObject({ target: named<TargetCase>('TARGET with the instanceUrl path removed').expected, content_sha256: body('empty body') })
    expect(named<TargetCase>('TARGET when a proxy already removed the path').expected).toBe(get.target)

    const sync = named<DigestCase>('sync request digest')
    expect(sync).toMatchObject({ method: 'POST', target: '/sync', content_sha256: body('sync request body') })
    const peerPop = named<AuthV2Case>('peer PoP message v2')
    expect(peerPop.request_digest).toBe(sync.expected)
    const peerSignature = named<SignatureCase>('peer PoP v2 signature (X-KMS-Signature)')
    expect(peerSignature.message).toBe(peerPop.expected)
    const peerBinding = named<BindingCase>('peer binding message')
    expect(peerBinding).toMatchObject({ subject: peerSignature.expected, wallet: peerPop.wallet, body_sha256: body('sync response body') })
    expect(named<SignatureCase>('peer binding signature (X-KMS-Peer-Binding)')).toMatchObject({ message: peerBinding.expected, signer: peerPop.wallet })

    // The sync body is the envelope as JSON.stringify sends it; the MACs cover it canonically.
    const hmacV2 = named<HmacV2Case>('X-Sync-Signature v2 of the sync envelope (§3.6)')
    expect(named<BodyCase>('sync request body').body).toBe(JSON.stringify(hmacV2.envelope))
    expect(hmacV2.nonce).toBe(peerPop.nonce)
    expect(hmacV2.sync_key).toBe(named<SyncKeyCase>('sync_key').expected)
  })

  test('behavior: the inputs are those of §5.7 (keys, nonce, timestamp, master secret, v1 HMAC)', () => {
    const v1 = loadVectors(protocol)
    const wallets = casesOf<VectorCase & { private_key: string; expected: string }>(v1, 'wallet')
    for (const signature of casesOf<SignatureCase>(vectors, 'eip191_signature')) {
      expect(wallets.find((entry) => entry.private_key === signature.private_key)?.expected).toBe(signature.signer)
    }
    const pop = casesOf<VectorCase & { nonce: string; wallet: string; timestamp: number }>(v1, 'app_auth_message')[0]!
    const appPop = named<AuthV2Case>('app PoP message v2')
    expect({ nonce: appPop.nonce, wallet: appPop.wallet, timestamp: appPop.timestamp }).toEqual({ nonce: pop.nonce, wallet: pop.wallet, timestamp: pop.timestamp })
    expect(named<SyncKeyCase>('sync_key')).toEqual({ ...casesOf<SyncKeyCase>(v1, 'sync_key')[0]!, name: 'sync_key' })
    expect(named<HmacCase>('X-Sync-Signature v1 of the sync envelope (§5.4)').expected).toBe(casesOf<HmacCase>(v1, 'sync_hmac')[0]!.expected)
  })

  test('behavior: the node reads the same digest from the headers of the GET (readRequestBinding)', () => {
    const target = named<TargetCase>('TARGET with the instanceUrl path removed')
    const get = named<DigestCase>('GET /kms/data?key=a%20b request digest')
    const request = new Request(target.url, { method: 'GET', headers: { 'x-app-auth-version': '2', 'x-app-content-sha256': get.content_sha256 } })
    const binding = readRequestBinding({ request, versionHeader: 'x-app-auth-version', instanceUrl: target.instance_url, minVersion: 1 })
    expect(binding).toEqual({ version: 2, v2: { requestDigest: get.expected, contentSha256: get.content_sha256 } })
  })
})
