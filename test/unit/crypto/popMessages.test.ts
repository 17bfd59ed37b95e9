import { describe, expect, test } from 'vitest'
import { buildAppAuthMessage, buildPeerAuthMessage, buildResponseMessage } from '../../../core/crypto'
import type { Wallet } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { casesOf, loadVectors, type VectorCase } from './_vectors'

interface AuthCase extends VectorCase {
  nonce: string
  wallet: Wallet
  timestamp: number
  expected: string
}
interface ResponseCase extends VectorCase {
  signature: string
  wallet: Wallet
  expected: string
}

const vectors = loadVectors(protocol)

describe('PoP strings (PROTOCOL §3.1.1, §3.4, §4.1)', () => {
  test.each(casesOf<AuthCase>(vectors, 'app_auth_message'))('vector: $name', ({ nonce, wallet, timestamp, expected }) => {
    expect(buildAppAuthMessage({ nonce, wallet, timestamp })).toBe(expected)
  })

  test.each(casesOf<AuthCase>(vectors, 'peer_auth_message'))('vector: $name', ({ nonce, wallet, timestamp, expected }) => {
    expect(buildPeerAuthMessage({ nonce, wallet, timestamp })).toBe(expected)
  })

  test.each(casesOf<ResponseCase>(vectors, 'response_message'))('vector: $name', ({ signature, wallet, expected }) => {
    expect(buildResponseMessage({ signature, wallet })).toBe(expected)
  })

  test('behavior: the timestamp is decimal without leading zeros', () => {
    const wallet = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
    expect(buildAppAuthMessage({ nonce: 'n', wallet, timestamp: 0 })).toBe(`NovaKMS:AppAuth:n:${wallet}:0`)
    expect(buildPeerAuthMessage({ nonce: 'n', wallet, timestamp: 1e15 })).toBe(`NovaKMS:Auth:n:${wallet}:1000000000000000`)
    expect(buildAppAuthMessage({ nonce: 'n', wallet, timestamp: 1767225600n })).toBe(`NovaKMS:AppAuth:n:${wallet}:1767225600`)
    expect(buildAppAuthMessage({ nonce: 'n', wallet, timestamp: (1n << 64n) - 1n })).toBe(
      `NovaKMS:AppAuth:n:${wallet}:18446744073709551615`,
    )
  })

  test('error: a non-canonical wallet or timestamp is a caller bug', () => {
    const nonce = 'AAECAwQFBgcICQoLDA0ODw=='
    expect(() =>
      buildAppAuthMessage({ nonce, wallet: '0x70997970C51812dc3a010C7d01b50e0d17dc79C8', timestamp: 1 }),
    ).toThrowErrorMatchingInlineSnapshot(`[TypeError: wallet: expected canonical 0x + 40 lowercase hex]`)
    expect(() =>
      buildPeerAuthMessage({ nonce, wallet: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', timestamp: 1.5 }),
    ).toThrowErrorMatchingInlineSnapshot(`[TypeError: timestamp: expected an integer, got number]`)
    expect(() =>
      buildPeerAuthMessage({ nonce, wallet: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', timestamp: 1n << 64n }),
    ).toThrowErrorMatchingInlineSnapshot(`[RangeError: timestamp: expected 0..2^64−1]`)
    expect(() =>
      buildResponseMessage({ signature: '0x00', wallet: '70997970c51812dc3a010c7d01b50e0d17dc79c8' as Wallet }),
    ).toThrow(TypeError)
  })
})
