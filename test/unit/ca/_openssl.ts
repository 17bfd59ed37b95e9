/**
 * OpenSSL as the independent checker of the CA (DESIGN §5): it makes the CSRs, verifies the
 * chains and prints the certificates. Each suite gets its own scratch directory.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface OpenSslResult {
  status: number | null
  stdout: string
  stderr: string
}

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'nova-ca-'))

  path(name: string): string {
    return join(this.dir, name)
  }

  write(name: string, content: string | Uint8Array): string {
    writeFileSync(this.path(name), content)
    return this.path(name)
  }

  read(name: string): string {
    return readFileSync(this.path(name), 'utf8')
  }

  readBytes(name: string): Uint8Array {
    return new Uint8Array(readFileSync(this.path(name)))
  }

  /** Runs openssl in the scratch directory. */
  run(args: readonly string[]): OpenSslResult {
    const result = spawnSync('openssl', args, { cwd: this.dir, encoding: 'utf8' })
    if (result.error !== undefined) throw result.error
    return { status: result.status, stdout: result.stdout, stderr: result.stderr }
  }

  /** Runs openssl and fails the test with its stderr unless it exits 0. */
  ok(args: readonly string[]): string {
    const result = this.run(args)
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`)
    return result.stdout
  }

  /**
   * A fresh key and CSR: `openssl req -new <keyArgs> -subj <subject> <extra>`. Returns the
   * CSR PEM; the key stays in `<name>.key`.
   */
  csr(name: string, keyArgs: readonly string[], extra: readonly string[] = [], subject = '/CN=test'): string {
    this.ok(['req', '-new', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject, ...extra])
    return this.read(`${name}.csr`)
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
export const P384 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']
export const ED25519 = ['-newkey', 'ed25519']
