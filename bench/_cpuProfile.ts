/**
 * Where a node's CPU goes: reads the `.cpuprofile` that `node --cpu-prof` writes on exit and
 * sums each sample's self time into a few buckets, by the function and module it landed in.
 * The bundle keeps its identifiers (esbuild minifies syntax only), so names are the source's.
 *
 * The buckets are coarse on purpose: the question is how much of a request is crypto that no
 * implementation can avoid, and what the rest is (HTTP, JSON, the node's own logic, GC).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

/** A bucket's rule: the first that matches a sample's stack (leaf first) takes it. */
interface BucketRule {
  bucket: string
  /** Matches a frame by function name or module URL. */
  match(frame: ProfileNode['callFrame']): boolean
}

const byName = (pattern: RegExp) => (frame: ProfileNode['callFrame']) => pattern.test(frame.functionName)
const byUrl = (pattern: RegExp) => (frame: ProfileNode['callFrame']) => pattern.test(frame.url)

/**
 * Crypto is named by the OUTERMOST crypto function on the stack (the project's own entry
 * points), so that the HMAC inside an RFC 6979 signature counts as signing, and keccak inside
 * a recovery as recovery. Everything else is named leaf-first: a sample in `JSON.parse` under
 * the router is JSON, not routing.
 */
const CRYPTO_RULES: readonly BucketRule[] = [
  { bucket: 'secp256k1_recover', match: byName(/^(recoverMessageSigner|recoverParsedPublicKey)$/) },
  { bucket: 'secp256k1_sign', match: byName(/^signMessageWithKey$/) },
  { bucket: 'p384_ecdh', match: byName(/^computeP384SharedSecret$/) },
  { bucket: 'p384_point_validation', match: byName(/^parseP384PublicKey$/) },
  { bucket: 'hkdf_hmac_sha256', match: byName(/^(hkdfSha256|hmacSha256)$/) },
  { bucket: 'aes_gcm', match: byName(/^(aesGcmSeal|aesGcmOpen|importAesGcmKey)$/) },
  { bucket: 'keccak', match: byName(/^(hashEip191Message|keccak_256)$/) },
]

const RULES: readonly BucketRule[] = [
  { bucket: 'gc', match: byName(/^\(garbage collector\)$/) },
  { bucket: 'idle', match: byName(/^\((idle|program)\)$/) },
  { bucket: 'json', match: byName(/^(parse|stringify|canonicalJson|parseJsonText)$/) },
  { bucket: 'base64_hex', match: byName(/^(bytesToBase64|base64ToBytes|parseHex|bytesToHex|toHex|hexToBytes)$/) },
  { bucket: 'http_server', match: byUrl(/node:_http|node:net|node:internal\/(http|stream|streams|net)|@hono\/node-server/) },
  { bucket: 'http_server', match: byName(/^(getRequestListener|responseViaResponseObject|newRequest|writeFromReadableStream)$/) },
  { bucket: 'web_streams_fetch', match: byUrl(/node:internal\/(webstreams|deps\/undici)|undici/) },
]

/**
 * A known signer's confirmation and table build (core/crypto/knownSigners.ts) run under
 * `SignatureWork.recoverMessageSigner`, whose name the recovery rule matches: they are named
 * by the innermost frame instead.
 */
const KNOWN_SIGNER_RULES: readonly BucketRule[] = [
  { bucket: 'secp256k1_confirm_known_signer', match: byName(/^madeBy$/) },
  { bucket: 'secp256k1_table_build', match: byName(/^precompute$/) },
]

function bucketOf(stack: readonly ProfileNode['callFrame'][]): string {
  for (const frame of stack) {
    for (const rule of KNOWN_SIGNER_RULES) if (rule.match(frame)) return rule.bucket
  }
  for (let index = stack.length - 1; index >= 0; index--) {
    for (const rule of CRYPTO_RULES) if (rule.match(stack[index]!)) return rule.bucket
  }
  for (const frame of stack) {
    for (const rule of RULES) if (rule.match(frame)) return rule.bucket
  }
  const leaf = stack[0]
  if (leaf === undefined) return 'other'
  if (leaf.url.includes('kms.mjs')) return 'node_logic'
  if (leaf.url === '') return 'native_or_builtin'
  return 'node_internals'
}

/** Milliseconds of self time per bucket, and the top leaf functions, in one profile. */
export interface ProfileBreakdown {
  sampled_ms: number
  /** Share of busy (non-idle) time per bucket. */
  busy_share: Record<string, number>
  busy_ms: number
  top_functions: { name: string; share: number }[]
}

export function summarizeCpuProfile(profile: CpuProfile): ProfileBreakdown {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const stackCache = new Map<number, string>()
  const leafTime = new Map<string, number>()
  const bucketTime = new Map<string, number>()
  let total = 0
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index]!
    const micros = profile.timeDeltas[index + 1] ?? 0
    total += micros
    let bucket = stackCache.get(id)
    if (bucket === undefined) {
      const stack: ProfileNode['callFrame'][] = []
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame)
      bucket = bucketOf(stack)
      stackCache.set(id, bucket)
    }
    bucketTime.set(bucket, (bucketTime.get(bucket) ?? 0) + micros)
    const leaf = byId.get(id)!.callFrame
    const name = `${leaf.functionName || '(anonymous)'} ${leaf.url.split('/').pop() ?? ''}`.trim()
    if (bucket !== 'idle') leafTime.set(name, (leafTime.get(name) ?? 0) + micros)
  }
  const busy = total - (bucketTime.get('idle') ?? 0)
  const share = (micros: number): number => Math.round((micros / busy) * 1000) / 1000
  const busyShare = Object.fromEntries(
    [...bucketTime].filter(([bucket]) => bucket !== 'idle').sort((a, b) => b[1] - a[1]).map(([bucket, micros]) => [bucket, share(micros)]),
  )
  const top = [...leafTime].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([name, micros]) => ({ name, share: share(micros) }))
  return { sampled_ms: Math.round(total / 1000), busy_ms: Math.round(busy / 1000), busy_share: busyShare, top_functions: top }
}

/** Reads the one `.cpuprofile` in `directory` (written by `--cpu-prof --cpu-prof-dir`). */
export function readCpuProfile(directory: string): CpuProfile {
  const file = readdirSync(directory).find((name) => name.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no .cpuprofile in ${directory}`)
  return JSON.parse(readFileSync(join(directory, file), 'utf8')) as CpuProfile
}
