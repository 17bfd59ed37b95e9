/**
 * 6. Bundle sizes of what `npm run build` just produced: raw, gzip (level 9, as a CDN or
 * a registry would serve it) and brotli (max quality).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const ARTEFACTS = ['dist/kms.mjs', 'dist/verifier.js', 'dist/cli.mjs'] as const

export interface BundleSize {
  raw_bytes: number
  gzip_bytes: number
  brotli_bytes: number
}

export function measureBundles(): Record<string, BundleSize> {
  const sizes: Record<string, BundleSize> = {}
  for (const name of ARTEFACTS) {
    const bytes = readFileSync(`${ROOT}${name}`)
    sizes[name] = {
      raw_bytes: bytes.length,
      gzip_bytes: gzipSync(bytes, { level: 9 }).length,
      brotli_bytes: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    }
  }
  return sizes
}
