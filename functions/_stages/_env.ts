/** The hono context variables the pipeline stages share. */
import type { KmsNode } from '../../core/node'
import type { MatchedRoute } from '../_routeTable'

export interface PipelineEnv {
  Variables: {
    requestId: string
    node: KmsNode
    /** `undefined` for a path no function serves. */
    route: MatchedRoute | undefined
  }
}
