/**
 * What the enclave-mode suites share: anvil with the real contracts, a test CA with a leaf per
 * `nodeN.kms.test`, an HTTP CONNECT proxy that alone resolves those names (the enclave's only
 * way out), and members made of a node process (`dist/kms.mjs` or the test build
 * `dist/kms-test.mjs`), its own `nova-runtime` as Odyn and a TLS terminator in front of it.
 *
 * Every Odyn here issues documents with {@link ENCLAVE_TEST_PCRS}: non-zero, so a node that
 * refuses debug documents (any enclave-mode node, the test build included) can accept them,
 * and the members register under KMS version {@link ENCLAVE_TEST_VERSION_ID}, enrolled with
 * their measurement. Version 1, which the deploy code enrolls with the zero-PCR dev
 * measurement, is left to the dev-mode suites.
 *
 * @module
 */
import { sha384 } from '@noble/hashes/sha2.js'
import { Agent, fetch as undiciFetch } from 'undici'
import type { Address, Hex } from 'viem'
import { codeMeasurement } from '../../core/attestation'
import { bytesToHex, utf8ToBytes } from '../../core/encoding'
import { startConnectProxy, type ConnectProxy } from '../helpers/connectProxy'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { nodeEnvironment, startProcessNode, type NodeStatus, type TestNode } from '../helpers/kmsNodes'
import { createLocalOdyn, type LocalOdyn } from '../helpers/localOdyn'
import { createTestCa, startTlsTerminator, type TestCa, type TlsTerminator } from '../helpers/tlsIngress'

export const KMS_BUNDLE = 'dist/kms.mjs'
export const KMS_TEST_BUNDLE = 'dist/kms-test.mjs'

/** PCR0..2 of every Odyn's documents: SHA-384 of a label each, so no byte pattern is special. */
export const ENCLAVE_TEST_PCRS = [0, 1, 2].map((index) => sha384(utf8ToBytes(`nova-kms enclave test PCR${index}`))) as [Uint8Array, Uint8Array, Uint8Array]

/** keccak256(PCR0 ‖ PCR1 ‖ PCR2) of {@link ENCLAVE_TEST_PCRS}, as the registry holds it. */
export const ENCLAVE_TEST_MEASUREMENT: Hex = `0x${bytesToHex(codeMeasurement(new Map(ENCLAVE_TEST_PCRS.map((pcr, index) => [index, pcr]))))}`

/** The KMS version the members register under. */
export const ENCLAVE_TEST_VERSION_ID = 2

export interface EnclaveNetwork {
  chain: DevChain
  ca: TestCa
  proxy: ConnectProxy
  names: readonly string[]
  /** The enclave-mode variables of a node whose Odyn is at `odynUrl`: 1 s ticks, the proxy, the test CA. */
  environment(odynUrl: string, extra?: Record<string, string>): Record<string, string>
  stop(): Promise<void>
}

/** The chain (with KMS version 2 enrolled), the CA for `names` and the proxy resolving them. */
export async function startEnclaveNetwork(names: readonly string[]): Promise<EnclaveNetwork> {
  const chain = await startDevChain()
  const stops: (() => Promise<void> | void)[] = [() => chain.stop()]
  const stop = async (): Promise<void> => {
    for (const step of stops.reverse()) await step()
  }
  try {
    await chain.enrollVersion({ appId: chain.addresses.kmsAppId, versionId: ENCLAVE_TEST_VERSION_ID, versionName: 'enclave-test', codeMeasurement: ENCLAVE_TEST_MEASUREMENT, imageUri: '' })
    const ca = await createTestCa(names)
    stops.push(() => ca.remove())
    const proxy = await startConnectProxy({ hosts: Object.fromEntries(names.map((name) => [name, '127.0.0.1'])) })
    stops.push(() => proxy.stop())
    const environment = (odynUrl: string, extra: Record<string, string> = {}): Record<string, string> =>
      nodeEnvironment(chain, {
        IN_ENCLAVE: 'true',
        LOG_LEVEL: 'ERROR',
        ODYN_URL: odynUrl,
        KMS_NODE_TICK_SECONDS: '1',
        DATA_SYNC_INTERVAL_SECONDS: '1',
        PEER_CACHE_TTL_SECONDS: '30',
        http_proxy: proxy.url,
        https_proxy: proxy.url,
        no_proxy: 'localhost,127.0.0.1',
        NODE_EXTRA_CA_CERTS: ca.caPath,
        ...extra,
      })
    return { chain, ca, proxy, names, environment, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

export interface EnclaveMember {
  name: string
  bundlePath: string
  odyn: LocalOdyn
  node: TestNode
  terminator: TlsTerminator
  /** `https://nodeN.kms.test:<terminator port>`, its registered instanceUrl. */
  url: string
  stop(): Promise<void>
}

/**
 * A node of `bundlePath` in enclave mode behind `name`, its Odyn issuing the test PCRs. The
 * Odyn runs unless `startOdyn` is false (the node then first runs with its helper unreachable).
 */
export async function startEnclaveMember(
  network: EnclaveNetwork,
  name: string,
  options: { appId: number; bundlePath: string; startOdyn?: boolean },
): Promise<EnclaveMember> {
  const odyn = await createLocalOdyn(options.appId, { pcrs: ENCLAVE_TEST_PCRS })
  if (options.startOdyn !== false) await odyn.start()
  const node = await startProcessNode(network.chain, network.environment(odyn.url), { bundlePath: options.bundlePath })
  const leaf = network.ca.leaves.get(name)
  if (leaf === undefined) throw new Error(`the test CA has no leaf for ${name}`)
  const terminator = await startTlsTerminator(leaf, Number(new URL(node.url).port))
  return {
    name,
    bundlePath: options.bundlePath,
    odyn,
    node,
    terminator,
    url: `https://${name}:${terminator.port}`,
    async stop() {
      await node.stop().catch(() => undefined)
      await terminator.stop().catch(() => undefined)
      await odyn.stop().catch(() => undefined)
    },
  }
}

/** Registers the member as an ACTIVE zkVerified KMS instance of the test version, funded for setMasterSecretHash. */
export async function registerMember(chain: DevChain, member: EnclaveMember): Promise<number> {
  await chain.fund(member.odyn.wallet as Address)
  return chain.registerInstance({
    versionId: ENCLAVE_TEST_VERSION_ID,
    teeWalletAddress: member.odyn.wallet as Address,
    teePubkey: `0x${bytesToHex(member.odyn.teeKey.publicKey.der)}` as Hex,
    instanceUrl: member.url,
    zkVerified: true,
  })
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `/status` until `predicate` holds, at most `timeoutMs`. */
export async function waitForStatus(node: TestNode, predicate: (status: NodeStatus) => boolean, timeoutMs = 60_000): Promise<NodeStatus> {
  const deadline = Date.now() + timeoutMs
  let status = await node.status()
  while (!predicate(status) && Date.now() < deadline) {
    await sleep(500)
    status = await node.status()
  }
  if (!predicate(status)) throw new Error(`condition not reached in ${timeoutMs} ms: ${JSON.stringify(status.node)}`)
  return status
}

/**
 * `nova_kms_peer_attestations_total{verified,result}` from the node's `/metrics` (PROTOCOL
 * §2.8); 0 when the series is absent (nothing counted yet).
 */
export async function peerAttestationCount(node: TestNode, verified: 'requester' | 'responder', result: string): Promise<number> {
  const text = await (await node.fetch('/metrics')).text()
  const line = text.split('\n').find((entry) => entry.startsWith(`nova_kms_peer_attestations_total{verified="${verified}",result="${result}"} `))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** A fetch that trusts the test CA and resolves each of `names` to its terminator on loopback. */
export function caFetch(network: EnclaveNetwork): { fetch: typeof fetch; close(): Promise<void> } {
  const agent = new Agent({
    connect: {
      ca: network.ca.caPem,
      lookup: (hostname, options, callback) => {
        if (!network.names.includes(hostname)) return callback(new Error(`unknown test host ${hostname}`), '', 4)
        // `all` lookups want an array (undici asks for one address).
        if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }])
        return callback(null, '127.0.0.1', 4)
      },
    },
  })
  return {
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => undiciFetch(input as never, { ...((init ?? {}) as object), dispatcher: agent } as never)) as unknown as typeof fetch,
    close: () => agent.close(),
  }
}
