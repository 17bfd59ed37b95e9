/**
 * Where a function gets its node: a `NodeProvider` maps the runtime's `env` to the one
 * `KmsNode` of this isolate or process. The default memoizes a node built from `env` with
 * the real clock and randomness; it is created on the first request or tick, never at
 * import time (workerd forbids randomness and I/O at module top level, DESIGN §3).
 */
import { KmsNode, type KmsNodeRuntime } from '../core/node'
import { consoleLogWriter, PACKAGE_VERSION, runtimeAllowsBackgroundWork, systemClock, TEST_BUILD, timerSleep, webCryptoRandom } from './_runtime'

export type NodeProvider = (env: unknown) => Promise<KmsNode>

let defaultNode: Promise<KmsNode> | undefined

function environmentOf(env: unknown): Record<string, unknown> {
  return typeof env === 'object' && env !== null ? (env as Record<string, unknown>) : {}
}

/** What only the host process can add to the default node (bundle/node.ts: its worker pool). */
export type NodeProcessExtras = Pick<KmsNodeRuntime, 'signatures'>

/**
 * The node for this isolate. A configuration error fails this call (500, naming the
 * variable) without keeping a node, so the next call tries again (§11). `extras` count on
 * the call that creates the node: the Node bootstrap makes that call before it serves.
 */
export const defaultNodeProvider = (env: unknown, extras: NodeProcessExtras = {}): Promise<KmsNode> => {
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
    ...extras,
  }).catch((error: unknown) => {
    defaultNode = undefined
    throw error
  })
  return defaultNode
}
