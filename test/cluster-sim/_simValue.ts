/**
 * The simulated record ciphertext and its §6.7 decryptability check. Real AES-GCM (§5.3) adds
 * nothing to what the simulation checks, and a readable format lets the oracles name the write
 * behind every stored value.
 */
import type { CanDecrypt } from '../../core/store'

const MAGIC = [0x53, 0x49, 0x4d, 0x31] // "SIM1"

/**
 * The simulated ciphertext: `SIM1 ‖ app ‖ order ‖ write id (u32 BE) ‖ padding`, 28 to 32
 * bytes (§5.3: at least 28). It names its app, standing for `data_key(app)`: the check below
 * accepts it under that app only. `order` comes before the write id, so that the §6.6 byte
 * comparison is chosen by the schedule and unrelated to the order of the writes.
 */
export function sealSimValue(appId: number, writeId: number, order: number): Uint8Array {
  const bytes = new Uint8Array(28 + (writeId % 5))
  bytes.set(MAGIC)
  bytes[4] = appId
  bytes[5] = order & 0xff
  new DataView(bytes.buffer).setUint32(6, writeId)
  return bytes
}

/** The app and write id of a simulated ciphertext, or `undefined` if it is not one. */
export function openSimValue(ciphertext: Uint8Array): { appId: number; writeId: number } | undefined {
  if (ciphertext.length < 28 || MAGIC.some((byte, index) => ciphertext[index] !== byte)) return undefined
  return { appId: ciphertext[4]!, writeId: new DataView(ciphertext.buffer, ciphertext.byteOffset).getUint32(6) }
}

/** §6.7 "decrypts under data_key(app_id)", for the simulated format. */
export const canDecryptSim: CanDecrypt = async (appId, ciphertext) => openSimValue(ciphertext)?.appId === appId
