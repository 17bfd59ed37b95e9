/**
 * Stage: the node for this request, from the function's node provider. If configuration is
 * invalid the provider rejects with a `KmsError` naming the variable, which the error
 * mapper answers as 500 (PROTOCOL §11).
 */
import type { MiddlewareHandler } from 'hono'
import type { NodeProvider } from '../_nodeProvider'
import type { PipelineEnv } from './_env'

export function provideNode(provider: NodeProvider): MiddlewareHandler<PipelineEnv> {
  return async function provideNodeStage(c, next) {
    c.set('node', await provider(c.env))
    await next()
  }
}
