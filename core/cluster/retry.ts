/**
 * The ⟳ retry policy of PROTOCOL §7.1: up to 5 attempts, with backoff 0.5, 1, 2 and 4 s
 * (each capped at 5 s) between them.
 */

export type Sleep = (milliseconds: number) => Promise<void>

const BACKOFF_MS = [500, 1000, 2000, 4000] as const
const MAX_BACKOFF_MS = 5000

/**
 * Runs `attempt` until it resolves, at most 5 times.
 * @throws the last attempt's error.
 */
export async function withRetries<T>(attempt: () => Promise<T>, sleep: Sleep): Promise<T> {
  let lastError: unknown
  for (let index = 0; index <= BACKOFF_MS.length; index++) {
    try {
      return await attempt()
    } catch (error) {
      lastError = error
      const backoff = BACKOFF_MS[index]
      if (backoff !== undefined) await sleep(Math.min(backoff, MAX_BACKOFF_MS))
    }
  }
  throw lastError
}
