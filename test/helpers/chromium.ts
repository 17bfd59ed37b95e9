/**
 * Headless Debian chromium for the browser suites: where it is, the flags the machine
 * requires, and how it is stopped by PID (its helpers with it), each wait bounded.
 */
import type { ChildProcess } from 'node:child_process'

export const CHROMIUM = '/usr/bin/chromium'
/** Per wait when stopping; the whole stop takes at most this long. */
export const CHROMIUM_EXIT_TIMEOUT_MS = 10_000

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // ESRCH: nothing of the group is left
  }
}

/**
 * Ends chromium: SIGTERM to the PID we started lets it reap its own helpers; if it has not
 * exited in time, SIGKILL its process group (it was started as the group's leader). Any
 * helper that outlived it is killed with the group.
 */
export async function stopChromium(child: ChildProcess): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    await withTimeout(exited, CHROMIUM_EXIT_TIMEOUT_MS / 2, 'chromium exit after SIGTERM').catch(async () => {
      killGroup(pid)
      await withTimeout(exited, CHROMIUM_EXIT_TIMEOUT_MS / 2, 'chromium exit after SIGKILL')
    })
  }
  killGroup(pid)
}
