/** `countReadFailures` (PROTOCOL §2.8 `nova_kms_registry_read_failures_total`). */
import { describe, expect, test } from 'vitest'
import { countReadFailures } from '../../core/chain'

interface Reader {
  read(key: string): Promise<string>
  readonly label: string
}

describe('countReadFailures', () => {
  test('behavior: answers pass through uncounted; each failed read counts once and still rejects with its own error', async () => {
    let failures = 0
    const failure = new Error('rpc down')
    const reader: Reader = {
      label: 'kms',
      read: async (key) => {
        if (key === 'bad') throw failure
        return `value of ${key}`
      },
    }
    const counted = countReadFailures(reader, () => failures++)
    expect(await counted.read('a')).toBe('value of a')
    expect(failures).toBe(0)
    await expect(counted.read('bad')).rejects.toBe(failure)
    await expect(counted.read('bad')).rejects.toBe(failure)
    expect(failures).toBe(2)
    expect(counted.label, 'members that are not methods are kept').toBe('kms')
  })

  test('error: a method that throws synchronously is a failed read too, returned as a rejection', async () => {
    let failures = 0
    const reader = {
      read: (): Promise<string> => {
        throw new TypeError('bad address')
      },
    }
    await expect(countReadFailures(reader, () => failures++).read()).rejects.toThrow('bad address')
    expect(failures).toBe(1)
  })
})
