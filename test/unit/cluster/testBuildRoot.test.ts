/**
 * The test build's own-document check (PROTOCOL §4.5, §10.3; core/nodeTicks.ts
 * `ownAttestationRoot`): in enclave mode a `testBuild` node reads its own document from its
 * Odyn right after its wallet, and refuses to serve if the document chains to the AWS root.
 * The Odyn is a fetch double speaking its wire (core/tee/odynTee.ts): `/v1/eth/address`, and
 * `/v1/attestation` answering a real AWS document of test/fixtures/nitro or a dev-root one.
 * Everything else (the chain RPC) fails, so a tick that passes the check stops at the next
 * step, `peer cache refresh failed`.
 */
import { describe, expect, it } from 'vitest'
import { decodeNitroAttestationUnverified, matchesAwsRootPin } from '../../../core/attestation'
import { privateKeyToWallet } from '../../../core/crypto'
import { KmsNode } from '../../../core/node'
import { nodeTick } from '../../../core/nodeTicks'
import { issueDevAttestation } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { readFixtureDocument } from '../../helpers/nitro/fixtures'

const T0_MS = 1_767_225_600_000
const ODYN = 'http://127.0.0.1:18000'
const WALLET = privateKeyToWallet(new Uint8Array(32).fill(3))
const AWS_DOCUMENT = readFixtureDocument('evervault-valid-attestation-doc-bytes.cbor')

interface OdynCalls {
  /** Paths asked of the Odyn, in order. */
  odyn: string[]
  /** URLs asked of anything else (the chain). */
  other: string[]
}

/** An enclave-mode node whose Odyn answers `/v1/attestation` with `attestation()`. */
async function enclaveNode(options: { testBuild: boolean; attestation: () => Promise<Response> }) {
  const calls: OdynCalls = { odyn: [], other: [] }
  const fetchDouble = async (input: RequestInfo | URL): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input)
    if (!url.startsWith(`${ODYN}/`)) {
      calls.other.push(url)
      throw new TypeError('fetch failed: no chain in this test')
    }
    const path = url.slice(ODYN.length)
    calls.odyn.push(path)
    if (path === '/v1/eth/address') return Response.json({ address: WALLET, public_key: null })
    if (path === '/v1/attestation') return options.attestation()
    return new Response('not found', { status: 404 })
  }
  const node = await KmsNode.create({
    env: { IN_ENCLAVE: 'true', ODYN_URL: ODYN, LOG_LEVEL: 'ERROR' },
    clock: new FakeClock(T0_MS),
    random: seededRandom(5),
    sleep: async () => undefined,
    fetch: fetchDouble as typeof fetch,
    writeLog: () => undefined,
    version: '0.0.0-test',
    testBuild: options.testBuild,
  })
  return { node, calls }
}

const cbor = (bytes: Uint8Array): Response => new Response(bytes.slice(), { headers: { 'content-type': 'application/cbor' } })

async function devDocument(): Promise<Uint8Array> {
  return issueDevAttestation({ request: { nonce: new Uint8Array(32) }, wallet: WALLET, teePublicKeyDer: new Uint8Array(0), nowMs: T0_MS, random: seededRandom(9) })
}

describe('the test build refuses an AWS-rooted own document (enclave mode)', () => {
  it('vector: the fixture chains to the AWS root and the dev document does not', async () => {
    expect(matchesAwsRootPin(decodeNitroAttestationUnverified(AWS_DOCUMENT).cabundle[0]!)).toBe(true)
    expect(matchesAwsRootPin(decodeNitroAttestationUnverified(await devDocument()).cabundle[0]!)).toBe(false)
  })

  it("behavior: an AWS-rooted document stops the tick with 'test build refuses an AWS-rooted enclave', before the chain", async () => {
    const { node, calls } = await enclaveNode({ testBuild: true, attestation: async () => cbor(AWS_DOCUMENT) })
    await nodeTick(node)
    expect(node.readiness.available).toBe(false)
    expect(node.readiness.reason).toBe('test build refuses an AWS-rooted enclave')
    expect(calls.odyn).toEqual(['/v1/eth/address', '/v1/attestation'])
    expect(calls.other).toEqual([])
    // It is asked again on the next tick: a refusal is never remembered as a pass.
    await nodeTick(node)
    expect(node.readiness.reason).toBe('test build refuses an AWS-rooted enclave')
    expect(calls.odyn.filter((path) => path === '/v1/attestation')).toHaveLength(2)
  })

  it('behavior: a dev-rooted document passes the check, once; the tick goes on to the peer cache', async () => {
    const { node, calls } = await enclaveNode({ testBuild: true, attestation: async () => cbor(await devDocument()) })
    await nodeTick(node)
    expect(node.readiness.reason).toBe('peer cache refresh failed')
    expect(calls.other.length).toBeGreaterThan(0)
    await nodeTick(node)
    expect(node.readiness.reason).toBe('peer cache refresh failed')
    expect(calls.odyn.filter((path) => path === '/v1/attestation')).toHaveLength(1)
  })

  it("error: an Odyn that cannot attest stops the tick with 'cannot read own attestation'", async () => {
    const { node, calls } = await enclaveNode({ testBuild: true, attestation: async () => new Response('nsm unavailable', { status: 500 }) })
    await nodeTick(node)
    expect(node.readiness.reason).toBe('cannot read own attestation')
    expect(calls.other).toEqual([])
  })

  it('behavior: the production build (testBuild false) never reads its own document, whatever its root', async () => {
    const { node, calls } = await enclaveNode({ testBuild: false, attestation: async () => cbor(AWS_DOCUMENT) })
    await nodeTick(node)
    expect(node.readiness.reason).toBe('peer cache refresh failed')
    expect(calls.odyn).not.toContain('/v1/attestation')
  })
})
