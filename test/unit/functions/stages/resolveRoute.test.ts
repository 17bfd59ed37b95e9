/**
 * Stage `resolveRoute` and the route table (PROTOCOL §2 routing): exact paths first, then
 * the longest `/*` prefix; the template is the metrics label; nothing is refused here.
 */
import { describe, expect, it } from 'vitest'
import { buildRouteTable } from '../../../../functions/_routeTable'
import { resolveRoute } from '../../../../functions/_stages/resolveRoute'
import { probeFunction, stageApp } from '../_helpers'

const data = probeFunction({ routes: [{ path: '/kms/data', methods: ['GET', 'PUT', 'DELETE'] }, { path: '/kms/data/*', methods: ['GET'] }] })
const deep = probeFunction({ routes: [{ path: '/kms/data/special/*', methods: ['POST'] }] })
const exact = probeFunction({ routes: [{ path: '/kms/data/exact', methods: ['PUT'] }] })

function app() {
  const server = stageApp()
  server.use(resolveRoute(buildRouteTable([data, deep, exact])))
  server.all('*', (c) => c.json({ template: c.get('route')?.template ?? null, methods: c.get('route')?.methods ?? null }))
  return server
}

async function templateOf(path: string, method = 'GET'): Promise<string | null> {
  return ((await (await app().request(path, { method })).json()) as { template: string | null }).template
}

describe('resolveRoute stage', () => {
  it('behavior: an exact path wins over a prefix', async () => {
    expect(await templateOf('/kms/data')).toBe('/kms/data')
    expect(await templateOf('/kms/data/exact')).toBe('/kms/data/exact')
  })

  it('behavior: the longest prefix wins, and the query string is ignored', async () => {
    expect(await templateOf('/kms/data/a')).toBe('/kms/data/*')
    expect(await templateOf('/kms/data/')).toBe('/kms/data/*')
    expect(await templateOf('/kms/data/special/x?key=1')).toBe('/kms/data/special/*')
    expect(await templateOf('/kms/data?key=a')).toBe('/kms/data')
  })

  it('behavior: an unknown path resolves to no route and still reaches the next stage', async () => {
    expect(await templateOf('/kms/datax')).toBeNull()
    expect(await templateOf('/', 'POST')).toBeNull()
  })

  it('behavior: the route carries its own methods, whatever the request method', async () => {
    const response = await app().request('/kms/data/k', { method: 'DELETE' })
    expect(await response.json()).toEqual({ template: '/kms/data/*', methods: ['GET'] })
  })

  it('error: two functions claiming one exact path or one prefix are refused when the table is built', () => {
    const again = probeFunction({ routes: [{ path: '/kms/data', methods: ['POST'] }] })
    expect(() => buildRouteTable([data, again])).toThrow('route /kms/data is defined twice')
    const prefixAgain = probeFunction({ routes: [{ path: '/kms/data/*', methods: ['POST'] }] })
    expect(() => buildRouteTable([data, prefixAgain])).toThrow('route /kms/data/* is defined twice')
  })
})
