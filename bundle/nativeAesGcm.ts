/**
 * AES-256-GCM on OpenSSL through `node:crypto`, called synchronously, for core's
 * {@link NativeAesGcm} seam (core/crypto/_aesGcm.ts says why: WebCrypto's AES-GCM under Node is
 * a thread-pool job per call). The node (bundle/node.ts) installs it at start; the bench
 * installs it too, so that the irreducible-crypto floor it reports is the node's own AES.
 */
import type { NativeAesGcm } from '../core/crypto'

const TAG_LENGTH = 16

/**
 * The cipher, with `node:crypto` looked up when called: this file is in the one bundle that
 * workerd also loads, where there is no `node:crypto` to import at the top.
 */
export function createNodeAesGcm(): NativeAesGcm {
  const { createCipheriv, createDecipheriv } = process.getBuiltinModule('node:crypto')
  return {
    seal(key, nonce, plaintext) {
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH })
      const head = cipher.update(plaintext)
      const tail = cipher.final()
      const tag = cipher.getAuthTag()
      const sealed = new Uint8Array(head.length + tail.length + TAG_LENGTH)
      sealed.set(head, 0)
      sealed.set(tail, head.length)
      sealed.set(tag, head.length + tail.length)
      return sealed
    },
    open(key, nonce, sealed) {
      // WebCrypto refuses an input shorter than its tag with the same OperationError as a bad tag.
      if (sealed.length < TAG_LENGTH) return undefined
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH })
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH))
      const head = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH))
      let tail: Buffer
      try {
        tail = decipher.final()
      } catch {
        // final() throws only when the tag does not verify; the plaintext in `head` is discarded.
        return undefined
      }
      const opened = new Uint8Array(head.length + tail.length)
      opened.set(head, 0)
      opened.set(tail, head.length)
      return opened
    },
  }
}
