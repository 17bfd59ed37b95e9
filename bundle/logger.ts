/**
 * Structured logs, one JSON object per line, filtered by `LOG_LEVEL`. Fields never carry
 * key material: callers pass identifiers and error messages only.
 */
import type { LogLevel, LogSink } from '../core/node'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export function createLogger(level: string): LogSink {
  const threshold = ORDER[level.trim().toLowerCase() as LogLevel] ?? ORDER.info
  return (entryLevel, message, fields) => {
    if (ORDER[entryLevel] < threshold) return
    const line = JSON.stringify({ ts: new Date().toISOString(), level: entryLevel, msg: message, ...fields })
    if (entryLevel === 'error' || entryLevel === 'warn') console.error(line)
    else console.log(line)
  }
}
