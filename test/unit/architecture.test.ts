/**
 * The shape of the code (issue 10, DESIGN §1–§2), checked on the sources: the layers import
 * downwards only (bundle → functions → core), no runtime import forms a cycle, `core/` has
 * no Node built-ins, and only the key ring derives keys from the master secret.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const LAYERS = ['core', 'functions', 'bundle'] as const

function sourceFiles(folder: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(ROOT, folder))) {
    const path = join(folder, entry)
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sourceFiles(path))
    else if (path.endsWith('.ts')) out.push(path)
  }
  return out
}

interface ImportEdge {
  from: string
  specifier: string
  /** The repository-relative file it resolves to, for relative specifiers. */
  to: string | undefined
  typeOnly: boolean
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm
const DYNAMIC = /import\(\s*['"]([^'"]+)['"]\s*\)/g

function resolveFile(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined
  const base = resolve(ROOT, dirname(from), specifier)
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    try {
      if (statSync(candidate).isFile()) return relative(ROOT, candidate)
    } catch {
      // try the next form
    }
  }
  return undefined
}

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const edges: ImportEdge[] = []
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[3]!
    edges.push({ from: file, specifier, to: resolveFile(file, specifier), typeOnly: match[2] !== undefined })
  }
  for (const match of text.matchAll(DYNAMIC)) {
    const specifier = match[1]!
    edges.push({ from: file, specifier, to: resolveFile(file, specifier), typeOnly: false })
  }
  return edges
}

const files = LAYERS.flatMap((layer) => sourceFiles(layer))
const edges = files.flatMap(importsOf)
const layerOf = (file: string): number => LAYERS.indexOf(file.split('/')[0] as (typeof LAYERS)[number])

describe('architecture', () => {
  it('behavior: the sources and their imports are found (the checks below see real code)', () => {
    expect(files.length).toBeGreaterThan(100)
    expect(edges.filter((edge) => edge.to !== undefined).length).toBeGreaterThan(300)
  })

  it('behavior: imports go only downwards: bundle → functions → core', () => {
    const upward = edges.filter((edge) => edge.to !== undefined && layerOf(edge.to) > layerOf(edge.from))
    expect(upward.map((edge) => `${edge.from} → ${edge.to}`)).toEqual([])
  })

  it('behavior: no runtime import cycle between files', () => {
    const graph = new Map<string, string[]>()
    for (const edge of edges) {
      if (edge.typeOnly || edge.to === undefined) continue
      graph.set(edge.from, [...(graph.get(edge.from) ?? []), edge.to])
    }
    const state = new Map<string, 'open' | 'done'>()
    const cycles: string[] = []
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '))
        return
      }
      state.set(file, 'open')
      for (const next of graph.get(file) ?? []) visit(next, [...path, file])
      state.set(file, 'done')
    }
    for (const file of graph.keys()) visit(file, [])
    expect(cycles).toEqual([])
  })

  it('behavior: core/ has no Node built-ins and no `any`', () => {
    const core = files.filter((file) => file.startsWith('core/'))
    const builtins = edges.filter((edge) => edge.from.startsWith('core/') && /^(node:|fs$|path$|http$|https$|crypto$|os$|child_process$|net$)/.test(edge.specifier))
    expect(builtins.map((edge) => `${edge.from}: ${edge.specifier}`)).toEqual([])
    const anys = core.filter((file) => /:\s*any\b|as any\b|<any>/.test(readFileSync(join(ROOT, file), 'utf8')))
    expect(anys).toEqual([])
  })

  it('behavior: only core/keys derives keys from the master secret or seals it', () => {
    const secretUsers = /\b(deriveAppKey|deriveDataKey|deriveSyncKey|deriveReencryptNonceKey|reencryptRecord|deriveCaKey|sealMasterSecret|computeSyncSignature|verifySyncSignature)\b/
    const namedImport = /import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/g
    const offenders: string[] = []
    for (const file of files) {
      if (/^core\/(keys|crypto|ca)\//.test(file)) continue
      for (const match of readFileSync(join(ROOT, file), 'utf8').matchAll(namedImport)) {
        const target = resolveFile(file, match[2]!)
        if (target !== undefined && /^core\/(crypto|ca)\//.test(target) && secretUsers.test(match[1]!)) offenders.push(`${file}: ${match[1]!.trim()}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it('behavior: every function file exports a value made by defineFunction or defineAppFunction', () => {
    const endpoints = files.filter((file) => /^functions\/[a-z][a-z_]*\.ts$/.test(file) && file !== 'functions/index.ts')
    expect(endpoints.length).toBe(14)
    for (const file of endpoints) expect(readFileSync(join(ROOT, file), 'utf8'), file).toMatch(/export const \w+ = define(App)?Function\(/)
  })
})
