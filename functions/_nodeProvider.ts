/**
 * Where a function gets its node: a `NodeProvider` maps the runtime's `env` to the one
 * `KmsNode` of this isolate or process. The default memoizes a node built from `env` with
 * the real clock and randomness; it is created on the first request or tick, never at
 * import time (workerd forbids randomness and I/O at module top level, DESIGN §3).
 */
import { KmsNode } from '../core/node'
import { consoleLogWriter, PACKAGE_VERSION, runtimeAllowsBackgroundWork, systemClock, TEST_BUILD, timerSleep, webCryptoRandom } from './_runtime'

export type NodeProvider = (env: unknown) => Promise<KmsNode>

let defaultNode: Promise<KmsNode> | undefined

function environmentOf(env: unknown): Record<string, unknown> {
  return typeof env === 'object' && env !== null ? (env as Record<string, unknown>) : {}
}

/**
 * The node for this isolate. A configuration error fails this call (500, naming the
 * variable) without keeping a node, so the next call tries again (§11).
 */
export const defaultNodeProvider: NodeProvider = (env) => {
  defaultNode ??= KmsNode.create({
    env: environmentOf(env),
    clock: systemClock,
    random: webCryptoRandom,
    sleep: timerSleep,
    fetch: (input, init) => globalThis.fetch(input, init),
    writeLog: consoleLogWriter,
    version: PACKAGE_VERSION,
    testBuild: TEST_BUILD,
    backgroundWork: runtimeAllowsBackgroundWork(),
  }).catch((error: unknown) => {
    defaultNode = undefined
    throw error
  })
  return defaultNode
}
