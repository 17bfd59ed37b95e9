import { keccak_256 } from '@noble/hashes/sha3.js'
import { concatBytes, utf8ToBytes } from '../encoding'
import { assertString } from '../_assert'

/**
 * EIP-191 personal-message hash (PROTOCOL §3.1.1):
 * `keccak256("\x19Ethereum Signed Message:\n" ‖ decimal(len(m)) ‖ m)`, with len in UTF-8
 * bytes.
 */
export function hashEip191Message(message: string): Uint8Array {
  assertString(message, 'message')
  const body = utf8ToBytes(message)
  const prefix = utf8ToBytes(`\x19Ethereum Signed Message:\n${body.length}`)
  return keccak_256(concatBytes(prefix, body))
}
