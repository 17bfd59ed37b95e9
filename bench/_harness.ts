/**
 * Shared bench plumbing: progress on stderr (stdout carries only the result), statistics and
 * CPU time. The machine is shared and noisy, so every figure is the median of several short
 * rounds, and every wait has a deadline (bundle/processes.ts's waitUntil).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const STARTED = performance.now()

/** Progress goes to stderr: stdout is reserved for the one JSON object. */
export function log(message: string): void {
  process.stderr.write(`[bench +${((performance.now() - STARTED) / 1000).toFixed(1)}s] ${message}\n`)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Nearest-rank percentile (p in 0..100): a value that was actually observed. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]!
}

/** Rounds for the report: figures carry a few significant digits, not float noise. */
export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

const CLOCK_TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * CPU time (user + system, all threads) of another process, from /proc/<pid>/stat. It
 * includes libuv's thread pool, where Node runs WebCrypto jobs. Resolution is one clock
 * tick (10 ms), so callers difference it over rounds of seconds.
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND
}

/**
 * CPU time of one thread of another process (/proc/<pid>/task/<tid>/stat); the main thread's
 * tid is the pid. With the secp256k1 worker pool on, this is what the requests queue on,
 * while {@link processCpuMs} counts the workers too.
 */
export function threadCpuMs(pid: number, tid: number = pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
}

/** CPU time of this (the bench) process, all threads. */
export function selfCpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Resident set size of a process, from /proc/<pid>/status. */
export function processRssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? Number.NaN : Number(match[1]) * 1024
}
