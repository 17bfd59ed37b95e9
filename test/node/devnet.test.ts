/**
 * The README's first command, `npm start`, on this machine: the devnet builds, deploys,
 * starts a node, makes it ready and runs the demo app's derive, put and get.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

describe('npm start (bundle/devnet.ts)', () => {
  it('behavior: brings up a ready node and an authenticated demo app, then stops everything', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'bundle/devnet.ts', '--exit'], { cwd: ROOT, timeout: 240_000 })
    expect(stdout).toContain('1 node(s) ready')
    expect(stdout).toMatch(/derived wallet\/root = [0-9a-f]{64}/)
    expect(stdout).toContain('stored and read back: "hello from the devnet"')
    const summary = JSON.parse(readFileSync(`${ROOT}.devnet/devnet.json`, 'utf8')) as { nodes: { url: string }[] }
    expect(summary.nodes).toHaveLength(1)
    // Everything it started is gone: the node no longer answers.
    await expect(fetch(`${summary.nodes[0]!.url}/health`)).rejects.toThrow()
  })
})
