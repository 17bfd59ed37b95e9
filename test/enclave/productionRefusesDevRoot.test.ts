/**
 * `dist/kms.mjs` in enclave mode trusts only the AWS root for peer documents (PROTOCOL §4.5,
 * §3.2.3), so the test build, whose documents chain to the dev root, can never take the
 * master secret from a production node, nor give one to it.
 *
 * The setup is the enclave cluster's (_enclaveCluster.ts: TLS names behind the egress proxy,
 * each node with its own nova-runtime as Odyn issuing the test PCRs, KMS version 2 enrolled
 * with their measurement):
 * - node 1 is `dist/kms.mjs` and registers first. A production node verifies nothing of its
 *   own document, so on this machine it reads its wallet from its Odyn, generates the secret
 *   and commits its hash like a real one;
 * - node 2 is the test build and tries to join from node 1. It accepts node 1's document
 *   (dev root, non-zero PCRs, enrolled measurement), and node 1 refuses node 2's with
 *   `Peer attestation rejected: ATTESTATION_ROOT_UNTRUSTED`;
 * - node 3 is `dist/kms.mjs` again and tries to join: it refuses every responder's document
 *   (all dev-rooted here, node 1's included) with the same check, before asking for anything.
 *
 * Node 1's own document is dev-rooted too, as no document made here can chain to AWS: what
 * the second case shows is the requester's check, whatever the responder is. enclaveCluster.test.ts
 * is the control: there, test-build nodes with these very Odyns and version pass both checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBundleBuilt } from '../helpers/kmsNodes'
import {
  KMS_BUNDLE,
  KMS_TEST_BUNDLE,
  peerAttestationCount,
  registerMember,
  sleep,
  startEnclaveMember,
  startEnclaveNetwork,
  waitForStatus,
  type EnclaveMember,
  type EnclaveNetwork,
} from './_enclaveCluster'

const NAMES = ['node1.kms.test', 'node2.kms.test', 'node3.kms.test']
const ROOT_UNTRUSTED = 'ATTESTATION_ROOT_UNTRUSTED'

let network: EnclaveNetwork
let production: EnclaveMember
let testBuild: EnclaveMember
let productionJoiner: EnclaveMember

/** Every `nova_kms_peer_attestations_total` series of the node, as `verified/result` → count. */
async function attestationSeries(member: EnclaveMember): Promise<Record<string, number>> {
  const text = await (await member.node.fetch('/metrics')).text()
  const series = [...text.matchAll(/^nova_kms_peer_attestations_total\{verified="(\w+)",result="([^"]+)"\} (\d+)$/gm)]
  return Object.fromEntries(series.map((match) => [`${match[1]}/${match[2]}`, Number(match[3])]))
}

describe('a production node (dist/kms.mjs) and dev-rooted peers in enclave mode', () => {
  beforeAll(async () => {
    for (const bundle of [KMS_BUNDLE, KMS_TEST_BUNDLE]) assertBundleBuilt(bundle)
    network = await startEnclaveNetwork(NAMES)
    production = await startEnclaveMember(network, NAMES[0]!, { appId: 201, bundlePath: KMS_BUNDLE })
    testBuild = await startEnclaveMember(network, NAMES[1]!, { appId: 202, bundlePath: KMS_TEST_BUNDLE })
    productionJoiner = await startEnclaveMember(network, NAMES[2]!, { appId: 203, bundlePath: KMS_BUNDLE })
    await registerMember(network.chain, production)
    await waitForStatus(production.node, (status) => status.node.service_available)
  })

  afterAll(async () => {
    for (const member of [production, testBuild, productionJoiner]) await member?.stop()
    await network?.stop()
  })

  it('behavior: the production node becomes ready on its own: enclave mode, its Odyn wallet, a generated secret', async () => {
    const { node } = await production.node.status()
    expect(node.mode).toBe('enclave')
    expect(node.tee_wallet.toLowerCase()).toBe(production.odyn.wallet.toLowerCase())
    expect(node.master_secret.state).toBe('generated')
  })

  it(`error: it refuses the test build's document with ${ROOT_UNTRUSTED}; the test build stays without the secret, 'peer attestation failed'`, async () => {
    await registerMember(network.chain, testBuild)
    const refused = await waitForStatus(testBuild.node, (status) => status.node.unavailable_reason === 'peer attestation failed')
    expect(refused.node.service_available).toBe(false)
    // The refusal is the production node's, of the requester's document (§4.2 step 7a).
    const deadline = Date.now() + 20_000
    while ((await peerAttestationCount(production.node, 'requester', ROOT_UNTRUSTED)) === 0 && Date.now() < deadline) await sleep(500)
    expect(await peerAttestationCount(production.node, 'requester', ROOT_UNTRUSTED)).toBeGreaterThanOrEqual(1)
    expect(await peerAttestationCount(production.node, 'requester', 'ok')).toBe(0)
    // The test build accepted the production node's document: it failed only because it was refused.
    const joinerSeries = await attestationSeries(testBuild)
    expect(joinerSeries['responder/ok']).toBeGreaterThanOrEqual(1)
    expect(Object.keys(joinerSeries).filter((key) => key.startsWith('responder/') && key !== 'responder/ok')).toEqual([])
    // More ticks (1 s each) do not change it.
    await sleep(3000)
    const later = await testBuild.node.status()
    expect(later.node.unavailable_reason).toBe('peer attestation failed')
    expect(later.node.master_secret).toEqual({ state: 'uninitialized', synced_from: null })
    expect(later.node.master_secret_initialized).toBe(false)
  })

  it(`error: a production joiner refuses the dev-rooted responders' documents with ${ROOT_UNTRUSTED} before asking for the secret`, async () => {
    await registerMember(network.chain, productionJoiner)
    const refused = await waitForStatus(productionJoiner.node, (status) => status.node.unavailable_reason === 'peer attestation failed')
    expect(refused.node.service_available).toBe(false)
    expect(refused.node.master_secret.state).toBe('uninitialized')
    const series = await attestationSeries(productionJoiner)
    expect(series[`responder/${ROOT_UNTRUSTED}`]).toBeGreaterThanOrEqual(1)
    // No responder passed, and a requester sends its secret request only after one has
    // (SyncClient.requestMasterSecret): it never asked anyone.
    expect(series['responder/ok']).toBeUndefined()
    expect((await productionJoiner.node.status()).node.master_secret_initialized).toBe(false)
  })
})
