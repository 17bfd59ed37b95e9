/**
 * `npm start`'s launcher (bundle/devnet.ts) as the tests run it: on ports the test picks, with a
 * state dir of its own, and stopped by PID (from its pid file) whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hasExited, isPortFree, signal, waitUntil } from '../../bundle/processes'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The launcher under tsx, as `npm start` runs it. */
export const DEVNET = ['--import', 'tsx', 'bundle/devnet.ts']

export function devnetStateDir(): string {
  return mkdtempSync(join(tmpdir(), 'nova-devnet-'))
}

/** `count` consecutive free loopback ports below Linux's ephemeral range (where anvil's port comes from). */
export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 6000)
    const free = await Promise.all(Array.from({ length: count }, (_, index) => isPortFree(base + index)))
    if (free.every(Boolean)) return base
  }
  throw new Error(`no ${count} consecutive free ports`)
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export interface PidFile {
  launcher: number
  children: { what: string; pid: number }[]
}

/** Stops, by PID, whatever a devnet run listed in its pid file and is still running. */
export function killListed(directory: string): void {
  const file = join(directory, 'pids.json')
  if (!existsSync(file)) return
  const pids = JSON.parse(readFileSync(file, 'utf8')) as PidFile
  for (const pid of [pids.launcher, ...pids.children.map((child) => child.pid)]) if (isAlive(pid)) signal(pid, 'SIGKILL')
}

export interface RunningDevnet {
  stateDir: string
  /** What the launcher printed so far. */
  output(): string
  /** SIGTERM to the launcher, then SIGKILL to whatever its pid file still lists. */
  stop(): Promise<void>
}

/**
 * Starts the launcher (`--no-build`: the caller has built dist/ and the contracts) and waits
 * until it says it is running.
 */
export async function startDevnet({ nodes = 1 }: { nodes?: number } = {}): Promise<RunningDevnet> {
  const stateDir = devnetStateDir()
  const ports = [
    '--port-base', String(await freePortBlock(nodes)),
    '--runtime-port-base', String(await freePortBlock(2)),
    '--page-port', String(await freePortBlock(1)),
  ]
  const launcher: ChildProcess = spawn(process.execPath, [...DEVNET, '--no-build', '--nodes', String(nodes), ...ports, '--state-dir', stateDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  launcher.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  launcher.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const stop = async (): Promise<void> => {
    if (!hasExited(launcher)) {
      signal(launcher.pid!, 'SIGTERM')
      await waitUntil('the devnet to stop', () => hasExited(launcher), { timeoutMs: 20_000 }).catch(() => undefined)
    }
    killListed(stateDir)
  }
  try {
    await waitUntil('the devnet to be ready', () => output.includes('[devnet] running (pid'), {
      timeoutMs: 200_000,
      intervalMs: 200,
      abortIf: () => (hasExited(launcher) ? `the devnet exited with ${launcher.exitCode}:\n${output}` : undefined),
    })
  } catch (error) {
    await stop()
    throw error
  }
  return { stateDir, output: () => output, stop }
}
