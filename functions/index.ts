/**
 * `functions/`: one standalone fetch handler per endpoint (DESIGN §1). Each export is a
 * `KmsFunction` whose `fetch` runs the whole PROTOCOL §2 pipeline for its own routes;
 * `serve` mounts any set of them, with the scheduled tick, as one module worker.
 *
 * @module
 */
import { attestation } from './attestation'
import { audit, auditCluster } from './audit'
import { ca } from './ca'
import { data } from './data'
import { derive } from './derive'
import { health } from './health'
import { metrics } from './metrics'
import { nodes } from './nodes'
import { nonce } from './nonce'
import { recoveryShare } from './recovery_share'
import { root } from './root'
import { signCert } from './sign_cert'
import { status } from './status'
import { sync } from './sync'

export { attestation, audit, auditCluster, ca, data, derive, health, metrics, nodes, nonce, recoveryShare, root, signCert, status, sync }
export { defineFunction, type FunctionPolicy, type HttpMethod, type KmsFunction, type NodeView, type RouteSpec } from './_define'
export { defineAppFunction, type AppFunctionPolicy, type AppRequest } from './_appRequest'
export { createPipeline, scheduledTick, serve, type ModuleWorker, type PipelineOptions, type ScheduledEvent } from './_serve'
export { defaultNodeProvider, type NodeProvider } from './_nodeProvider'

/** Every endpoint of Nova KMS, in PROTOCOL §2 order. */
export const ALL_FUNCTIONS = [root, health, status, nonce, nodes, attestation, metrics, derive, data, signCert, ca, audit, auditCluster, sync, recoveryShare] as const
