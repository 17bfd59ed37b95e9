/**
 * bundle/processes.ts: the one set of port, wait and spawn helpers that the devnet, the bench
 * and the node tests share. Real sockets and real child processes on 127.0.0.1, each stopped
 * by PID; no chain (a node answers /health before its first tick reaches one).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { findFreePort, isPortFree, spawnKmsNode, stopProcess, waitUntil, type KmsNodeProcess } from '../../bundle/processes'
import { assertBundleBuilt } from '../helpers/kmsNodes'

const servers: Server[] = []
const nodes: KmsNodeProcess[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()))
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
})

async function occupy(port = 0): Promise<number> {
  // Connections (e.g. the spawn's /health probes) are dropped, so that close() returns.
  const server = createServer((socket) => socket.destroy())
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A node with no chain: /health answers, the ticks fail quietly. */
const env = { IN_ENCLAVE: 'false', LOG_LEVEL: 'ERROR', NODE_URL: 'http://127.0.0.1:9', KMS_NODE_TICK_SECONDS: '60' }

describe('ports', () => {
  it('behavior: findFreePort gives a port that isPortFree confirms, and a listener makes it taken', async () => {
    const port = await findFreePort()
    expect(port).toBeGreaterThan(0)
    expect(await isPortFree(port)).toBe(true)
    await occupy(port)
    expect(await isPortFree(port)).toBe(false)
  })
})

describe('waitUntil', () => {
  it('behavior: returns the first value that is neither undefined nor false; throws count as not yet', async () => {
    let calls = 0
    const value = await waitUntil('the third call', async () => {
      calls++
      if (calls === 1) throw new Error('refused')
      return calls === 3 ? 'ok' : false
    }, { timeoutMs: 2000, intervalMs: 1 })
    expect(value).toBe('ok')
    expect(calls).toBe(3)
  })

  it('error: times out naming the label and the last error', async () => {
    await expect(waitUntil('nothing', () => Promise.reject(new Error('ECONNREFUSED')), { timeoutMs: 50, intervalMs: 10 })).rejects.toThrow(
      /timed out after 50 ms waiting for nothing \(last error: ECONNREFUSED\)/,
    )
  })

  it('error: abortIf stops the wait at once with its reason', async () => {
    const started = performance.now()
    await expect(waitUntil('a server', () => undefined, { timeoutMs: 10_000, abortIf: () => 'it exited with 1' })).rejects.toThrow(
      'gave up waiting for a server: it exited with 1',
    )
    expect(performance.now() - started).toBeLessThan(1000)
  })
})

describe('stopProcess', () => {
  it('behavior: SIGKILLs a process that ignores SIGTERM once the bound has passed', async () => {
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] })
    await new Promise((resolve) => child.stdout!.once('data', resolve))
    const started = performance.now()
    await stopProcess(child, { graceMs: 300 })
    expect(child.signalCode).toBe('SIGKILL')
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
    expect(isAlive(child.pid!)).toBe(false)
  })
})

describe('spawnKmsNode', () => {
  it('behavior: node dist/kms.mjs on a free port answers /health; stop() ends it by PID', async () => {
    assertBundleBuilt()
    const node = await spawnKmsNode({ env })
    nodes.push(node)
    expect(node.url).toBe(`http://127.0.0.1:${node.port}`)
    expect(await (await fetch(`${node.url}/health`)).json()).toEqual({ status: 'healthy' })
    expect(isAlive(node.pid)).toBe(true)
    await node.stop()
    expect(isAlive(node.pid)).toBe(false)
    await expect(fetch(`${node.url}/health`)).rejects.toThrow()
    await node.stop() // idempotent
  })

  it('behavior: onOutput receives the node\'s log lines', async () => {
    assertBundleBuilt()
    const lines: string[] = []
    const node = await spawnKmsNode({ env: { ...env, LOG_LEVEL: 'INFO' }, onOutput: (line) => lines.push(line) })
    nodes.push(node)
    await waitUntil('the listening line', () => lines.some((line) => line.includes('listening')), { timeoutMs: 5000 })
  })

  it('error: a given port that is taken fails with the node\'s own error, never another port', async () => {
    assertBundleBuilt()
    const port = await occupy()
    await expect(spawnKmsNode({ env, port })).rejects.toThrow(new RegExp(`on 127\\.0\\.0\\.1:${port}.*exited with 1.*EADDRINUSE`, 's'))
  })

  it('error: a process that never answers /health is stopped after the timeout', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'nova-processes-'))
    writeFileSync(join(directory, 'silent.mjs'), 'setInterval(() => {}, 1000)\n')
    await expect(spawnKmsNode({ env, cwd: directory, bundlePath: 'silent.mjs', healthTimeoutMs: 300, stopGraceMs: 500 })).rejects.toThrow(
      /timed out after 300 ms waiting for node silent\.mjs on 127\.0\.0\.1:\d+ to answer \/health/,
    )
  })
})
