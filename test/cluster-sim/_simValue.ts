/**
 * The simulated record ciphertext and its §6.7 decryptability check. Real AES-GCM (§5.3) adds
 * nothing to what the simulation checks, and a readable format lets the oracles name the write
 * behind every stored value.
 */
import type { CanDecrypt } from '../../core/store'

const MAGIC = [0x53, 0x49, 0x4d, 0x31] // "SIM1"
/** Where the key epoch sits (u32 BE); zero before any rotation, so epoch-0 values are as they were. */
const EPOCH_AT = 10

/**
 * The simulated ciphertext: `SIM1 ‖ app ‖ order ‖ write id (u32 BE) ‖ epoch (u32 BE) ‖ padding`,
 * 28 to 32 bytes (§5.3: at least 28). It names its app and key epoch, standing for
 * `data_key(app, epoch)`: the check below accepts it under that app and epoch only. `order`
 * comes before the write id, so that the §6.6 byte comparison is chosen by the schedule and
 * unrelated to the order of the writes (as a random nonce leaves it).
 */
export function sealSimValue(appId: number, writeId: number, order: number, keyEpoch = 0): Uint8Array {
  const bytes = new Uint8Array(28 + (writeId % 5))
  bytes.set(MAGIC)
  bytes[4] = appId
  bytes[5] = order & 0xff
  const view = new DataView(bytes.buffer)
  view.setUint32(6, writeId)
  view.setUint32(EPOCH_AT, keyEpoch)
  return bytes
}

/** The app, write id and key epoch of a simulated ciphertext, or `undefined` if it is not one. */
export function openSimValue(ciphertext: Uint8Array): { appId: number; writeId: number; keyEpoch: number } | undefined {
  if (ciphertext.length < 28 || MAGIC.some((byte, index) => ciphertext[index] !== byte)) return undefined
  const view = new DataView(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength)
  return { appId: ciphertext[4]!, writeId: view.getUint32(6), keyEpoch: view.getUint32(EPOCH_AT) }
}

/**
 * §6.10 re-encryption, simulated: the same write under `keyEpoch`, same length. Like the
 * deterministic nonce (the first 12 bytes of HMAC-SHA256(key_c, "<e>:" ‖ old value)), the new
 * bytes are a function of the target epoch and the old value alone (whose epoch they name), so
 * every replica that re-encrypts the same copy gets the same bytes; and the `order` byte is
 * redrawn from them, so the §6.6 byte order of re-encrypted copies is unrelated to the old one.
 */
export function reencryptSimValue(ciphertext: Uint8Array, keyEpoch: number): Uint8Array {
  const bytes = ciphertext.slice()
  new DataView(bytes.buffer).setUint32(EPOCH_AT, keyEpoch)
  // FNV-1a over "<e>:" ‖ old value: any fixed function of both would do.
  let hash = 0x811c9dc5
  for (const byte of [...new TextEncoder().encode(`${keyEpoch}:`), ...ciphertext]) hash = Math.imul(hash ^ byte, 0x01000193)
  bytes[5] = (hash >>> 24) & 0xff
  return bytes
}

/** §6.7 "decrypts under data_key(app_id, key_epoch)", for the simulated format (every epoch held). */
export const canDecryptSim: CanDecrypt = async (appId, ciphertext, keyEpoch) => {
  const opened = openSimValue(ciphertext)
  return opened?.appId === appId && opened.keyEpoch === keyEpoch
}
