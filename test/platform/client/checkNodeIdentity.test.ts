/** RUNTIME.md §1 "Identity binding": `/status` must name the registry wallet and teePubkey. */
import { describe, expect, it } from 'vitest'
import { checkNodeIdentity } from '../../../core/client'
import { bytesToHex } from '../../../core/encoding'

const node = { wallet: `0x${'ab'.repeat(20)}` as const, teePubkeyDer: Uint8Array.of(0x30, 0x76, 0xaa, 0xbb) }
const status = (tee_wallet: unknown, tee_pubkey: unknown) => ({ node: { tee_wallet, tee_pubkey } })

describe('checkNodeIdentity', () => {
  it('behavior: lowercase hex of the registry DER matches, with or without 0x', () => {
    expect(checkNodeIdentity(status(node.wallet, bytesToHex(node.teePubkeyDer)), node).matches).toBe(true)
    expect(checkNodeIdentity(status(node.wallet, `0x${bytesToHex(node.teePubkeyDer)}`), node).matches).toBe(true)
  })

  it('behavior: the teePubkey comparison is case-sensitive, as the runtime\'s', () => {
    expect(checkNodeIdentity(status(node.wallet, bytesToHex(node.teePubkeyDer).toUpperCase()), node)).toEqual({
      matches: false,
      reason: 'status tee_pubkey is not the registry teePubkey',
    })
  })

  it('behavior: the wallet is compared as an address, so its hex case does not matter', () => {
    expect(checkNodeIdentity(status(node.wallet.toUpperCase().replace('0X', '0x'), bytesToHex(node.teePubkeyDer)), node).matches).toBe(true)
  })

  it('error: another wallet, another key or a malformed status does not match', () => {
    expect(checkNodeIdentity(status(`0x${'cd'.repeat(20)}`, bytesToHex(node.teePubkeyDer)), node).matches).toBe(false)
    expect(checkNodeIdentity(status(node.wallet, '3076aabc'), node).matches).toBe(false)
    expect(checkNodeIdentity(status(node.wallet, ''), node).matches).toBe(false)
    expect(checkNodeIdentity({ node: {} }, node).matches).toBe(false)
    expect(checkNodeIdentity('not an object', node).matches).toBe(false)
  })
})
