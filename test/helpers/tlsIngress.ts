/**
 * TLS in front of plain-HTTP test nodes, as a host's ingress terminates https before a node
 * (README "Deploying to the Nova platform"): a throwaway CA made with `openssl` in a temp
 * directory, one leaf per DNS name (SAN=DNS:<name>), and a `node:tls` terminator per leaf
 * that pipes every connection to a loopback port.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { promisify } from 'node:util'
import { LOOPBACK } from '../../bundle/processes'

const run = promisify(execFile)

export interface TestCa {
  directory: string
  /** The CA certificate file, for `NODE_EXTRA_CA_CERTS`. */
  caPath: string
  caPem: string
  /** Each leaf's key and certificate (PEM), by DNS name. */
  leaves: ReadonlyMap<string, { keyPem: string; certPem: string }>
  remove(): void
}

/** A P-256 CA and one serverAuth leaf per name, each valid for two days. */
export async function createTestCa(names: readonly string[]): Promise<TestCa> {
  const directory = mkdtempSync(join(tmpdir(), 'kms-test-ca-'))
  const caKey = join(directory, 'ca.key')
  const caPath = join(directory, 'ca.crt')
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caPath, '-days', '2', '-subj', '/CN=Nova KMS test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  const leaves = new Map<string, { keyPem: string; certPem: string }>()
  for (const [index, name] of names.entries()) {
    const key = join(directory, `leaf${index}.key`)
    const csr = join(directory, `leaf${index}.csr`)
    const cert = join(directory, `leaf${index}.crt`)
    const extensions = join(directory, `leaf${index}.ext`)
    writeFileSync(extensions, `subjectAltName=DNS:${name}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`)
    await run('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`])
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', caPath, '-CAkey', caKey, '-set_serial', String(1000 + index), '-days', '2', '-out', cert, '-extfile', extensions])
    leaves.set(name, { keyPem: readFileSync(key, 'utf8'), certPem: readFileSync(cert, 'utf8') })
  }
  return { directory, caPath, caPem: readFileSync(caPath, 'utf8'), leaves, remove: () => rmSync(directory, { recursive: true, force: true }) }
}

export interface TlsTerminator {
  /** The loopback port it listens on. */
  port: number
  /** TLS connections accepted so far. */
  readonly connections: number
  stop(): Promise<void>
}

/** Terminates TLS with `leaf` on a free loopback port and pipes each connection to `targetPort`. */
export async function startTlsTerminator(leaf: { keyPem: string; certPem: string }, targetPort: number): Promise<TlsTerminator> {
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  let connections = 0
  const server: TlsServer = createTlsServer({ key: leaf.keyPem, cert: leaf.certPem }, (client) => {
    connections++
    track(client)
    const upstream = connect({ host: LOOPBACK, port: targetPort })
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.once('error', () => upstream.destroy())
    upstream.once('error', () => client.destroy())
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })
  server.on('connection', track)
  server.on('tlsClientError', () => undefined)
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(0, LOOPBACK, () => done())
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    get connections() {
      return connections
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((done) => server.close(() => done()))
    },
  }
}

export interface CountingHttpServer {
  port: number
  /** Requests (and bare connections) received so far. */
  readonly hits: number
  stop(): Promise<void>
}

/** A TCP listener that counts connections and closes them: a target that must never be reached. */
export async function startCountingListener(): Promise<CountingHttpServer> {
  let hits = 0
  const server: TcpServer = createTcpServer((socket) => {
    hits++
    socket.destroy()
  })
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(0, LOOPBACK, () => done())
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    get hits() {
      return hits
    },
    stop: () => new Promise<void>((done) => server.close(() => done())),
  }
}
