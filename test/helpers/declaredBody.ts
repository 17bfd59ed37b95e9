/**
 * Sends only the headers of a request that declares `length` body bytes, and reads the
 * answer. A node that answers before it reads the body (limits, gates, auth from headers)
 * may reset a client still writing a large body, so tests declare large bodies rather than
 * send them.
 */
import { request as httpRequest } from 'node:http'

export function answerForDeclaredLength(
  url: string,
  options: { method?: string; length: number; headers?: Record<string, string> },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers, 'content-length': String(options.length) }
    const request = httpRequest(url, { method: options.method ?? 'POST', headers }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })
        request.destroy()
      })
    })
    request.on('error', reject)
    request.flushHeaders()
  })
}
