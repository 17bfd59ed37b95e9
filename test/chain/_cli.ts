/**
 * Runs the deploy/ops CLI as an operator does (`npx tsx contracts/deploy/cli.ts`): JSON on
 * stdout, or `{"error"}` on stderr with status 1. `DEPLOYER_PRIVATE_KEY` defaults to anvil's
 * first account, the devnet's owner.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { ANVIL_OWNER_KEY } from '../helpers/devChain'

const REPO = fileURLToPath(new URL('../../', import.meta.url))

export interface CliResult {
  status: number
  stdout: string
  stderr: string
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', 'contracts/deploy/cli.ts', ...args],
      { cwd: REPO, env: { ...process.env, DEPLOYER_PRIVATE_KEY: ANVIL_OWNER_KEY, ...env } },
      (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

/** A command that must succeed: its one JSON object. */
export async function cliJson(args: string[], env?: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const result = await cli(args, env)
  expect(result.stderr.split('\n').filter((line) => line.startsWith('{'))).toEqual([])
  expect(result.status).toBe(0)
  return JSON.parse(result.stdout) as Record<string, unknown>
}

/** A command that must fail: the message of its `{"error"}`. */
export async function cliError(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await cli(args, env)
  expect(result.status).toBe(1)
  expect(result.stdout).toBe('')
  return (JSON.parse(result.stderr.trim().split('\n').at(-1)!) as { error: string }).error
}
