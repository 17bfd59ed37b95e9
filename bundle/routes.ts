/**
 * The route table (PROTOCOL §2): each route template, its functions by method, its gate,
 * and whether the per-client nonce limiter applies.
 */
import type { KmsFunction } from '../functions/_http'
import { attestation } from '../functions/attestation'
import { ca } from '../functions/ca'
import { data } from '../functions/data'
import { derive } from '../functions/derive'
import { health } from '../functions/health'
import { metrics } from '../functions/metrics'
import { nodes } from '../functions/nodes'
import { nonce } from '../functions/nonce'
import { root } from '../functions/root'
import { signCert } from '../functions/sign_cert'
import { status } from '../functions/status'
import { sync } from '../functions/sync'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface RouteEntry {
  template: string
  methods: Partial<Record<Method, KmsFunction>>
  /** `ready` routes answer 503 with the reason while the node is unavailable (§2 step 4). */
  gate: 'none' | 'ready'
  nonceLimited?: true
}

export const ROUTES: readonly RouteEntry[] = [
  { template: '/', methods: { GET: root }, gate: 'none' },
  { template: '/health', methods: { GET: health }, gate: 'none' },
  { template: '/status', methods: { GET: status }, gate: 'none' },
  { template: '/nonce', methods: { GET: nonce }, gate: 'none', nonceLimited: true },
  { template: '/nodes', methods: { GET: nodes }, gate: 'none' },
  { template: '/attestation', methods: { GET: attestation }, gate: 'none', nonceLimited: true },
  { template: '/metrics', methods: { GET: metrics }, gate: 'none' },
  { template: '/kms/derive', methods: { POST: derive }, gate: 'ready' },
  { template: '/kms/data', methods: { GET: data, PUT: data, DELETE: data }, gate: 'ready' },
  { template: '/kms/data/*', methods: { GET: data }, gate: 'ready' },
  { template: '/kms/sign_cert', methods: { POST: signCert }, gate: 'ready' },
  { template: '/kms/ca', methods: { GET: ca }, gate: 'ready' },
  { template: '/sync', methods: { POST: sync }, gate: 'none' },
]

const BY_TEMPLATE = new Map(ROUTES.map((route) => [route.template, route]))

/** The route for `pathname`: exact templates, and `/kms/data/*` for keys in the path. */
export function matchRoute(pathname: string): RouteEntry | undefined {
  const exact = BY_TEMPLATE.get(pathname)
  if (exact !== undefined) return exact
  if (pathname.startsWith('/kms/data/')) return BY_TEMPLATE.get('/kms/data/*')
  return undefined
}
