// The HTTP floor's server (bench/httpFloor.ts): answers GET /nonce and POST /kms/derive with
// the recorded bytes of a real exchange, and does nothing else but read the request body and
// parse it as JSON, as every real handler must. `node bench/_httpFloorServer.mjs <stack>
// <port> <exchange.json>`, where <stack> is `node-http` (bare node:http) or `hono` (the
// node's own stack: hono on @hono/node-server). Prints `ready` once listening.
import { readFileSync } from 'node:fs'
import http from 'node:http'

const [stack, portText, exchangeFile] = process.argv.slice(2)
const port = Number(portText)
/** @type {{ nonce: { status: number, headers: Record<string, string>, body: string }, derive: { status: number, headers: Record<string, string>, body: string } }} */
const exchange = JSON.parse(readFileSync(exchangeFile, 'utf8'))
const listening = () => process.stdout.write('ready\n')

if (stack === 'node-http') {
  http
    .createServer((request, response) => {
      if (request.method === 'GET') {
        response.writeHead(exchange.nonce.status, exchange.nonce.headers).end(exchange.nonce.body)
        return
      }
      const chunks = []
      request.on('data', (chunk) => chunks.push(chunk))
      request.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'))
        response.writeHead(exchange.derive.status, exchange.derive.headers).end(exchange.derive.body)
      })
    })
    .listen(port, '127.0.0.1', listening)
} else if (stack === 'hono') {
  const { Hono } = await import('hono')
  const { serve } = await import('@hono/node-server')
  const app = new Hono()
  app.get('/nonce', (c) => c.body(exchange.nonce.body, exchange.nonce.status, exchange.nonce.headers))
  app.post('/kms/derive', async (c) => {
    JSON.parse(await c.req.text())
    return c.body(exchange.derive.body, exchange.derive.status, exchange.derive.headers)
  })
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, listening)
} else {
  process.stderr.write(`unknown stack ${stack}\n`)
  process.exit(2)
}
