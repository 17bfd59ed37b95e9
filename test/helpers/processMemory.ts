/**
 * `node dist/kms.mjs` with its PID exposed, and the kernel's memory figures for it, so a test
 * can bound what a hostile input costs a node (issue 12, H2). Linux only: `/proc/<pid>/status`.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { spawnKmsNode } from '../../bundle/processes'
import type { DevChain } from './devChain'
import { assertBundleBuilt, BUNDLE_PATH, nodeEnvironment, type NodeStatus, type TestNode } from './kmsNodes'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface MeasuredNode extends TestNode {
  pid: number
  /** The last few KB of the node's stderr (its WARN and ERROR log lines). */
  stderrTail(): string
}

/** `startProcessNode` of kmsNodes.ts, plus the PID. */
export async function startMeasuredProcessNode(chain: DevChain, overrides: Record<string, string> = {}): Promise<MeasuredNode> {
  assertBundleBuilt()
  const node = await spawnKmsNode({ env: nodeEnvironment(chain, overrides), cwd: ROOT, bundlePath: BUNDLE_PATH })
  const fetcher = (path: string, init?: RequestInit): Promise<Response> => fetch(`${node.url}${path}`, init)
  return {
    kind: 'process',
    url: node.url,
    pid: node.pid,
    fetch: fetcher,
    tick: async () => undefined,
    status: async () => (await (await fetcher('/status')).json()) as NodeStatus,
    stop: node.stop,
    stderrTail: () => node.stderrTail(),
  }
}

/** A `kB` field of `/proc/<pid>/status` in bytes (`VmHWM`: peak resident set; `VmRSS`: now). */
export function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`)
  return Number(match[1]) * 1024
}

export const MB = 1_000_000
