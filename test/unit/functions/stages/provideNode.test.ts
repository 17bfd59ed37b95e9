/**
 * Stage `provideNode`: the request's node comes from the provider, which gets the runtime's
 * `env`; a provider that rejects with a configuration `KmsError` gives 500 naming the
 * variable, and the next request asks the provider again.
 */
import { describe, expect, it, vi } from 'vitest'
import { KmsError } from '../../../../core/errors'
import type { KmsNode } from '../../../../core/node'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { provideNode } from '../../../../functions/_stages/provideNode'
import { createDevNode, errorBody, stageApp } from '../_helpers'

describe('provideNode stage', () => {
  it('behavior: the handler sees the provider\'s node, built from the runtime env', async () => {
    const { node } = await createDevNode()
    const envs: unknown[] = []
    const server = stageApp()
    server.use(provideNode(async (env) => {
      envs.push(env)
      return node
    }))
    server.get('/x', (c) => c.json({ wallet: c.get('node').wallet }))
    const env = { IN_ENCLAVE: 'false' }
    const response = await server.request('/x', {}, env)
    expect(await response.json()).toEqual({ wallet: node.wallet })
    expect(envs).toEqual([env])
  })

  it('error: a configuration error is 500 naming the variable, and the next request retries', async () => {
    const { node } = await createDevNode()
    let calls = 0
    const provider = async (): Promise<KmsNode> => {
      calls++
      if (calls === 1) throw new KmsError('internal_error', 'Invalid configuration: NODE_URL must be an http(s) URL')
      return node
    }
    const server = stageApp()
    server.use(provideNode(provider))
    server.get('/x', () => new Response('ok'))
    server.onError(mapError)
    const console = vi.spyOn(globalThis.console, 'error').mockImplementation(() => undefined)
    try {
      const failed = await server.request('/x')
      expect(failed.status).toBe(500)
      expect(await errorBody(failed)).toEqual({ code: 'internal_error', message: 'Invalid configuration: NODE_URL must be an http(s) URL' })
    } finally {
      console.mockRestore()
    }
    const retried = await server.request('/x')
    expect(retried.status).toBe(200)
    expect(calls).toBe(2)
  })
})
