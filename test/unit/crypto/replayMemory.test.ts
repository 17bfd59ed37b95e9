import { describe, expect, test } from 'vitest'
import { REPLAY_MEMORY_CAPACITY, ReplayMemory } from '../../../core/crypto'

const peer = new Uint8Array(120).fill(7)
const otherPeer = new Uint8Array(120).fill(8)

function nonce(index: number): Uint8Array {
  const bytes = new Uint8Array(12)
  new DataView(bytes.buffer).setUint32(0, index)
  return bytes
}

describe('replay memory (PROTOCOL §10.2)', () => {
  test('behavior: a pair is accepted once', () => {
    const memory = new ReplayMemory()
    expect(memory.remember(peer, nonce(1))).toBe(true)
    expect(memory.remember(peer, nonce(1))).toBe(false)
    expect(memory.remember(peer, nonce(2))).toBe(true)
    expect(memory.remember(otherPeer, nonce(1))).toBe(true)
    expect(memory.size).toBe(3)
  })

  test('behavior: it holds the last 4096 pairs, first in first out', () => {
    expect(REPLAY_MEMORY_CAPACITY).toBe(4096)
    const memory = new ReplayMemory()
    for (let index = 0; index < 4096; index++) expect(memory.remember(peer, nonce(index))).toBe(true)
    expect(memory.size).toBe(4096)
    expect(memory.remember(peer, nonce(0))).toBe(false)
    expect(memory.remember(peer, nonce(4096))).toBe(true) // evicts nonce 0, the oldest
    expect(memory.size).toBe(4096)
    expect(memory.remember(peer, nonce(1))).toBe(false)
    expect(memory.remember(peer, nonce(0))).toBe(true) // forgotten, so accepted again; evicts 1
    expect(memory.remember(peer, nonce(1))).toBe(true)
  })

  test('behavior: a rejected replay does not refresh its pair', () => {
    const memory = new ReplayMemory(2)
    memory.remember(peer, nonce(1))
    memory.remember(peer, nonce(2))
    expect(memory.remember(peer, nonce(1))).toBe(false)
    memory.remember(peer, nonce(3)) // evicts 1 (oldest by acceptance), not 2
    expect(memory.remember(peer, nonce(2))).toBe(false)
    expect(memory.remember(peer, nonce(1))).toBe(true)
  })

  test('error: capacity must be a positive integer', () => {
    expect(() => new ReplayMemory(0)).toThrowErrorMatchingInlineSnapshot(`[RangeError: capacity: expected 1..9007199254740991, got 0]`)
  })
})
