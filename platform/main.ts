/**
 * `node dist/nova-runtime.mjs`: a local Nova runtime (RUNTIME.md §2) for one app instance
 * of a devnet, backed by the devnet's real KMS cluster. When both APIs listen it prints
 * exactly one line, `nova-runtime app <N> api <url> aux <url>`; SIGTERM and SIGINT close
 * both and exit 0; a bad command line, devnet file or app exits 1 with a message.
 */
import { readFileSync } from 'node:fs'
import { systemClock, timerSleep, webCryptoRandom } from './systemRuntime'
import { createAppInstance } from './app/appInstance'
import { parseRuntimeArguments, RuntimeArgumentsError, USAGE } from './cli/parseRuntimeArguments'
import { DevnetConfigError, parseDevnetConfig, type RuntimeConfig } from './config/parseDevnetConfig'
import { serveRuntime } from './serveRuntime'

function fail(message: string): never {
  console.error(`nova-runtime: ${message}`)
  process.exit(1)
}

function readConfig(path: string, appId: number): RuntimeConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    fail(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    fail(`${path} is not valid JSON`)
  }
  try {
    return parseDevnetConfig(json, appId)
  } catch (error) {
    if (error instanceof DevnetConfigError) fail(`${path}: ${error.message}`)
    throw error
  }
}

async function main(argv: readonly string[]): Promise<void> {
  let parsed
  try {
    parsed = parseRuntimeArguments(argv)
  } catch (error) {
    if (error instanceof RuntimeArgumentsError) fail(`${error.message}\n\n${USAGE}`)
    throw error
  }
  if (parsed.command === 'help') {
    process.stdout.write(USAGE)
    return
  }
  const fromFile = readConfig(parsed.devnetPath, parsed.appId)
  const config = parsed.pcrs === undefined ? fromFile : { ...fromFile, pcrs: parsed.pcrs }
  const instance = await createAppInstance(config, { clock: systemClock, random: webCryptoRandom, sleep: timerSleep, bindingVersion: parsed.bindingVersion })
  let running
  try {
    running = await serveRuntime(instance, { host: parsed.host, port: parsed.port })
  } catch (error) {
    fail(`cannot listen on ${parsed.host}:${parsed.port} and ${parsed.port + 1}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const stop = (): void => {
    void running.close().then(() => process.exit(0))
    // Never hang on shutdown.
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  console.log(`nova-runtime app ${config.appId} api ${running.apiUrl} aux ${running.auxUrl}`)
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error('nova-runtime: failed to start:', error)
  process.exit(1)
})
