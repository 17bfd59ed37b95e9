/**
 * Structured logging with a level filter (`LOG_LEVEL`, PROTOCOL §11). The core decides what
 * is logged; the runtime decides where lines go (`LogWriter`), so the core never touches a
 * console or a clock. Fields never carry key material: callers pass identifiers and error
 * messages only.
 *
 * @module
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export type LogFields = Readonly<Record<string, unknown>>

/** Writes one entry that passed the level filter. */
export type LogWriter = (level: LogLevel, message: string, fields?: LogFields) => void

export type Logger = (level: LogLevel, message: string, fields?: LogFields) => void

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** A logger that passes entries at or above `threshold` (the config's `DEBUG`…`ERROR`) to `write`. */
export function createLogger(threshold: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR', write: LogWriter): Logger {
  const minimum = ORDER[threshold.toLowerCase() as LogLevel]
  return (level, message, fields) => {
    if (ORDER[level] >= minimum) write(level, message, fields)
  }
}
