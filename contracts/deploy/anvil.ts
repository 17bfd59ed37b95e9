/**
 * Starts a real anvil (DESIGN §5: chain tests use anvil, never fakes). The PID we hold is the
 * anvil binary itself, not the npm launcher, so stopping it cannot orphan the chain; and
 * every anvil still running is killed when the test process exits.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { findFreePort, stopProcess, waitUntil } from '../../bundle/processes'

export interface Anvil {
  rpcUrl: string
  pid: number
  /** Kills anvil by PID and resolves once it has exited. */
  stop(): Promise<void>
}

export interface StartAnvilOptions {
  /** How long to wait for anvil to answer `eth_chainId`. */
  readyTimeoutMs?: number
}

const running = new Set<ChildProcess>()
let exitHooksInstalled = false

/** The platform binary from `@foundry-rs/anvil-<os>-<arch>`; the `.bin` launcher as a fallback. */
function resolveAnvilBinary(): string {
  const require = createRequire(import.meta.url)
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const executable = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
  try {
    const manifest = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/package.json`)
    const binary = join(dirname(manifest), 'bin', executable)
    if (existsSync(binary)) return binary
  } catch {
    // no platform package installed: use the launcher below
  }
  return join(dirname(require.resolve('@foundry-rs/anvil/package.json')), '..', '..', '.bin', 'anvil')
}

function installExitHooks(): void {
  if (exitHooksInstalled) return
  exitHooksInstalled = true
  const killAll = (): void => {
    for (const child of running) child.kill('SIGKILL')
  }
  process.once('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll()
      // Our listener is gone now: with no other listener, re-raising runs the default action.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    })
  }
}

async function answersChainId(rpcUrl: string): Promise<boolean> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    })
    return response.ok && typeof ((await response.json()) as { result?: unknown }).result === 'string'
  } catch {
    return false
  }
}

/** Starts anvil on 127.0.0.1 at a free port and waits (bounded) until it answers. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<Anvil> {
  installExitHooks()
  // The port is free when we look, but another process may take it before anvil binds.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchAnvil(await findFreePort(), options.readyTimeoutMs ?? 15_000)
    } catch (error) {
      if (attempt === 3) throw error
    }
  }
}

async function launchAnvil(port: number, readyTimeoutMs: number): Promise<Anvil> {
  const child = spawn(resolveAnvilBinary(), ['--host', '127.0.0.1', '--port', String(port), '--silent'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  running.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.once('exit', () => running.delete(child))
  // A test process that forgets stop() must still be able to exit; the exit hook kills anvil.
  child.unref()
  ;(child.stderr as Socket | null)?.unref()

  const stop = (): Promise<void> => stopProcess(child)

  const rpcUrl = `http://127.0.0.1:${port}`
  try {
    await waitUntil(`anvil on port ${port}`, () => answersChainId(rpcUrl), {
      timeoutMs: readyTimeoutMs,
      intervalMs: 50,
      abortIf: () => (child.exitCode !== null ? `it exited with ${child.exitCode}` : undefined),
    })
  } catch (error) {
    await stop()
    throw new Error(`anvil did not start on port ${port}: ${stderr.trim() || (error instanceof Error ? error.message : String(error))}`)
  }
  if (child.pid === undefined) throw new Error('anvil has no pid')
  return { rpcUrl, pid: child.pid, stop }
}
