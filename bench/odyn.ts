/**
 * 6. What enclave mode adds per derive. There the node holds neither key: it asks the
 * runtime over HTTP (ODYN_URL, PROTOCOL §10.1) to open the request envelope, seal the answer
 * and sign the binding, three calls per derive, each doing its own ECDH or signature. Nothing
 * can be cached on the node's side: the P-384 private key never leaves the runtime. This
 * times the three calls against `dist/nova-runtime.mjs` (the project's stand-in for the
 * runtime's API, which runs the same envelope cipher and signer in-process) through the
 * node's own Odyn client (core/tee/odynTee.ts), one call in flight at a time, and the CPU
 * both processes spend per call. The real runtime is Rust; its ECDH is not cached either.
 */
import { createOdynTee } from '../core/tee'
import { generateP384PrivateKey } from '../core/crypto'
import { canonicalJson } from '../core/encoding'
import { createLocalOdyn } from '../test/helpers/localOdyn'
import { cryptoRandom } from '../test/helpers/kmsNodes'
import { log, median, processCpuMs, round, selfCpuMs } from './_harness'

const CALLS = 300

export interface OdynCallCost {
  wall_ms_p50: number
  /** CPU of the runtime process per call. */
  runtime_cpu_ms: number
  /** CPU of this (the node's client) process per call. */
  client_cpu_ms: number
}

export interface OdynResult {
  calls_each: number
  decrypt: OdynCallCost
  encrypt: OdynCallCost
  sign: OdynCallCost
  /** The three together: what each derive would add over the dev stand-in's in-process work. */
  per_derive_wall_ms: number
  per_derive_runtime_cpu_ms: number
  /** …and the node's own CPU for the three HTTP exchanges (client side of each call). */
  per_derive_node_cpu_ms: number
}

export async function measureOdyn(): Promise<OdynResult> {
  const odyn = await createLocalOdyn(7777)
  await odyn.start()
  try {
    const tee = createOdynTee({ baseUrl: odyn.url, fetch: (input, init) => fetch(input, init) })
    const app = await generateP384PrivateKey(cryptoRandom)
    const plaintext = canonicalJson({ path: 'bench/derive', context: 'odyn' })
    const pid = odyn.pid
    if (pid === undefined) throw new Error('odyn: the runtime is not running')
    const time = async (label: string, call: () => Promise<unknown>): Promise<OdynCallCost> => {
      for (let index = 0; index < 30; index++) await call()
      const walls: number[] = []
      const runtimeBefore = processCpuMs(pid)
      const selfBefore = selfCpuMs()
      for (let index = 0; index < CALLS; index++) {
        const started = performance.now()
        await call()
        walls.push(performance.now() - started)
      }
      const cost = {
        wall_ms_p50: round(median(walls), 3),
        runtime_cpu_ms: round((processCpuMs(pid) - runtimeBefore) / CALLS, 3),
        client_cpu_ms: round((selfCpuMs() - selfBefore) / CALLS, 3),
      }
      log(`odyn ${label}: ${JSON.stringify(cost)}`)
      return cost
    }
    const runtimeKey = await tee.getEncryptionPublicKey()
    const encrypt = await time('encrypt', () => tee.encrypt(plaintext, app.publicKey.der))
    // Each decrypt needs a fresh envelope (the runtime refuses a replayed nonce), so the
    // envelopes are made first, outside the timing: the runtime seals them to its own key,
    // which costs the same ECDH as an app's sealing to it.
    const envelopes = await Promise.all(Array.from({ length: CALLS + 30 }, () => tee.encrypt(plaintext, runtimeKey)))
    let next = 0
    const decrypt = await time('decrypt', () => tee.decrypt(envelopes[next++]!))
    const sign = await time('sign', () => tee.signMessage(`NovaKMS:Response:bench:${next++}`))
    return {
      calls_each: CALLS,
      decrypt,
      encrypt,
      sign,
      per_derive_wall_ms: round(decrypt.wall_ms_p50 + encrypt.wall_ms_p50 + sign.wall_ms_p50, 2),
      per_derive_runtime_cpu_ms: round(decrypt.runtime_cpu_ms + encrypt.runtime_cpu_ms + sign.runtime_cpu_ms, 2),
      per_derive_node_cpu_ms: round(decrypt.client_cpu_ms + encrypt.client_cpu_ms + sign.client_cpu_ms, 2),
    }
  } finally {
    await odyn.stop()
  }
}
