/**
 * The route table, built from the functions' own policies (PROTOCOL §2 routing): exact
 * paths first, then the longest `/*` prefix. Two functions claiming one path is a
 * programming error, caught when the table is built.
 */
import type { HttpMethod, KmsFunction } from './_define'

export interface MatchedRoute {
  /** The route as written in the policy (`/kms/data/*`): the metrics label. */
  template: string
  fn: KmsFunction
  methods: readonly HttpMethod[]
}

export interface RouteTable {
  match(pathname: string): MatchedRoute | undefined
}

export function buildRouteTable(functions: readonly KmsFunction[]): RouteTable {
  const exact = new Map<string, MatchedRoute>()
  const prefixes: { prefix: string; route: MatchedRoute }[] = []
  for (const fn of functions) {
    for (const { path, methods } of fn.policy.routes) {
      const route: MatchedRoute = { template: path, fn, methods }
      if (path.endsWith('/*')) {
        const prefix = path.slice(0, -1)
        if (prefixes.some((entry) => entry.prefix === prefix)) throw new Error(`route ${path} is defined twice`)
        prefixes.push({ prefix, route })
      } else {
        if (exact.has(path)) throw new Error(`route ${path} is defined twice`)
        exact.set(path, route)
      }
    }
  }
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length)
  return {
    match(pathname) {
      return exact.get(pathname) ?? prefixes.find(({ prefix }) => pathname.startsWith(prefix))?.route
    },
  }
}
