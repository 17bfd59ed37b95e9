/**
 * The secp256k1 worker pool (bundle/signaturePool.ts) through its public interface, its
 * workers running the real dist/kms.mjs: every answer equals the inline one (signatures,
 * recovered wallets, and the exact errors of bad signatures); a worker stopped with jobs in
 * flight fails them with 503, is replaced, and the pool keeps answering from workers.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { createSignaturePool, cryptoWorkerCount, type SignaturePool } from '../../bundle/signaturePool'
import { generateWalletPrivateKey, inlineSignatureWork } from '../../core/crypto'
import { bytesToHex } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import { waitUntil } from '../../bundle/processes'
import { assertBundleBuilt, BUNDLE_PATH, cryptoRandom } from '../helpers/kmsNodes'

const WORKER_URL = pathToFileURL(resolve(BUNDLE_PATH))

let pool: SignaturePool | undefined
afterEach(async () => {
  await pool?.close()
  pool = undefined
})

async function startPool(size: number): Promise<SignaturePool> {
  assertBundleBuilt()
  pool = createSignaturePool({ size, workerUrl: WORKER_URL })
  const started = pool
  await waitUntil('signature workers ready', async () => (started.readyWorkers === size ? true : undefined), { timeoutMs: 20_000, intervalMs: 20 })
  return started
}

/** A value or the error's wire body and log details, so that both sides compare whole. */
async function outcome(run: () => Promise<string>): Promise<unknown> {
  try {
    return { value: await run() }
  } catch (error) {
    if (error instanceof KmsError) return { code: error.code, message: error.message, details: error.details }
    throw error
  }
}

function randomMessage(index: number): string {
  const bytes = cryptoRandom.bytes(1 + (index % 97))
  // Any text a node signs or recovers: ASCII, multi-byte characters, separators.
  return `NovaKMS:${index}:${bytesToHex(bytes)}:é✓𝄞:${String.fromCharCode(...bytes.subarray(0, 8))}`
}

describe('signature pool (bundle/signaturePool.ts) on dist/kms.mjs workers', () => {
  it('behavior: KMS_NODE_CRYPTO_WORKERS: default cores − 1 within 1…4, 0 is inline, anything else names the variable', () => {
    expect([1, 2, 3, 4, 5, 8, 64].map((cores) => cryptoWorkerCount(undefined, cores))).toEqual([0, 0, 0, 3, 4, 4, 4])
    expect(cryptoWorkerCount(' ', 8)).toBe(4)
    expect(cryptoWorkerCount(' ', 2)).toBe(0)
    expect(cryptoWorkerCount('0', 2)).toBe(0)
    expect(cryptoWorkerCount('16', 2)).toBe(16)
    for (const bad of ['-1', '17', '1.5', 'two', '0x2', '100']) {
      expect(() => cryptoWorkerCount(bad, 2)).toThrow(/^KMS_NODE_CRYPTO_WORKERS must be an integer from 0 to 16$/)
    }
  })

  it('behavior: 200 random messages: signatures and recovered wallets equal the inline ones, all from the workers', async () => {
    const started = await startPool(2)
    const key = generateWalletPrivateKey(cryptoRandom)
    const messages = Array.from({ length: 200 }, (_, index) => randomMessage(index))
    // 40 at a time: within the two workers' queue bound (2 × 32), so none runs inline.
    const signatures: `0x${string}`[] = []
    const wallets: string[] = []
    for (let offset = 0; offset < messages.length; offset += 40) {
      const chunk = messages.slice(offset, offset + 40)
      const signed = await Promise.all(chunk.map((message) => started.signMessage(key, message)))
      signatures.push(...signed)
      wallets.push(...(await Promise.all(chunk.map((message, index) => started.recoverMessageSigner(message, signed[index]!)))))
    }
    for (const [index, message] of messages.entries()) {
      expect(signatures[index]).toBe(await inlineSignatureWork.signMessage(key, message))
      expect(wallets[index]).toBe(await inlineSignatureWork.recoverMessageSigner(message, signatures[index]!))
    }
    // Another key signs, the same wallet recovers: the pool holds no key of its own.
    const other = generateWalletPrivateKey(cryptoRandom)
    const otherSignature = await started.signMessage(other, messages[0]!)
    expect(await started.recoverMessageSigner(messages[0]!, otherSignature)).toBe(await inlineSignatureWork.recoverMessageSigner(messages[0]!, otherSignature))
    expect(new Set(wallets).size).toBe(1)
    expect(started.inlineJobs).toBe(0)
  })

  it('error: bad signatures fail with exactly the inline KmsError (code, message, details)', async () => {
    const started = await startPool(1)
    const message = 'NovaKMS:AppAuth:bad'
    const good = await inlineSignatureWork.signMessage(generateWalletPrivateKey(cryptoRandom), message)
    const bad = [
      'not hex',
      good.slice(0, -2),
      good.slice(0, -2) + '1d',
      '0x' + '00'.repeat(64) + '1b',
      '0x' + 'ff'.repeat(64) + '1c',
      // r = 5 is below n but no curve point has x = 5: "signature does not recover".
      '0x' + '00'.repeat(31) + '05' + '00'.repeat(31) + '01' + '1b',
      ...Array.from({ length: 40 }, () => `0x${bytesToHex(cryptoRandom.bytes(64))}${['00', '01', '1b', '1c'][cryptoRandom.bytes(1)[0]! % 4]}`),
    ]
    const seen = new Set<string>()
    for (const signature of bad) {
      const expected = await outcome(() => inlineSignatureWork.recoverMessageSigner(message, signature))
      expect(await outcome(() => started.recoverMessageSigner(message, signature))).toEqual(expected)
      seen.add(JSON.stringify(expected).slice(0, 40))
    }
    // The list reaches format errors, range errors, failed recoveries and random recoveries.
    expect(seen.size).toBeGreaterThanOrEqual(4)
    expect(started.inlineJobs).toBe(0)
  })

  it('error: a worker stopped with jobs in flight fails them with 503, is replaced, and the pool keeps answering', async () => {
    const started = await startPool(2)
    const key = generateWalletPrivateKey(cryptoRandom)
    const messages = Array.from({ length: 60 }, (_, index) => randomMessage(index))
    const signatures = messages.map((message) => inlineSignatureWork.signMessage(key, message))
    const expected = await inlineSignatureWork.recoverMessageSigner(messages[0]!, await signatures[0]!)
    const before = started.threads.map((worker) => worker.threadId)
    // 60 recoveries (about 40 ms each side) queued on the two workers; stop one at once.
    const jobs = await Promise.all(signatures)
    const inFlight = messages.map((message, index) => started.recoverMessageSigner(message, jobs[index]!).then(
      (wallet) => ({ wallet }),
      (error: unknown) => ({ error }),
    ))
    await started.threads[0]!.terminate()
    const settled = await Promise.all(inFlight)
    const failed = settled.filter((result) => 'error' in result)
    expect(failed.length).toBeGreaterThan(0)
    for (const result of failed) {
      expect(result.error).toBeInstanceOf(KmsError)
      expect((result.error as KmsError).status).toBe(503)
      expect((result.error as KmsError).message).toBe('Signature worker unavailable')
    }
    for (const result of settled) if ('wallet' in result) expect(result.wallet).toBe(expected)
    // A fresh worker takes the dead one's place, and the work goes to workers again.
    await waitUntil('worker replaced', async () => (started.readyWorkers === 2 ? true : undefined), { timeoutMs: 20_000, intervalMs: 20 })
    const after = started.threads.map((worker) => worker.threadId)
    expect(after).toHaveLength(2)
    expect(after).toContain(before[1])
    expect(after).not.toContain(before[0])
    const inlineBefore = started.inlineJobs
    const again = await Promise.all(messages.map((message, index) => started.recoverMessageSigner(message, jobs[index]!)))
    expect(new Set(again)).toEqual(new Set([expected]))
    expect(started.inlineJobs).toBe(inlineBefore)
  })

  it('behavior: beyond the queue bound and after close(), jobs run inline with the same results', async () => {
    assertBundleBuilt()
    pool = createSignaturePool({ size: 1, workerUrl: WORKER_URL, maxQueuedPerWorker: 2 })
    const started = pool
    await waitUntil('signature worker ready', async () => (started.readyWorkers === 1 ? true : undefined), { timeoutMs: 20_000, intervalMs: 20 })
    const key = generateWalletPrivateKey(cryptoRandom)
    const messages = Array.from({ length: 10 }, (_, index) => randomMessage(index))
    const signatures = await Promise.all(messages.map((message) => started.signMessage(key, message)))
    // Two queued on the worker at a time: the other eight ran on this thread.
    expect(started.inlineJobs).toBe(8)
    for (const [index, message] of messages.entries()) expect(signatures[index]).toBe(await inlineSignatureWork.signMessage(key, message))
    await started.close()
    expect(started.threads).toHaveLength(0)
    expect(await started.signMessage(key, messages[0]!)).toBe(signatures[0])
    expect(started.inlineJobs).toBe(9)
  })
})
