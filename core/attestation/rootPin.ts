/**
 * The trust anchor of ATTESTATION.md §2 step 5 and PROTOCOL §3.2.3: AWS Nitro Enclaves
 * Root-G1, pinned by the SHA-256 of its DER. The fingerprint lives in this one constant; the
 * embedded copy of the DER is checked against it when the node is created (lazily, never at
 * module load: DESIGN §3). A corrupted copy of the root PEM circulates, hence the pin.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesEqual, parseBase64, parseHex } from '../encoding'
import { AttestationError } from './errors'

/** SHA-256 of the Root-G1 DER, as AWS documents it. */
export const AWS_NITRO_ROOT_G1_SHA256 = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b'

/** Root-G1 DER (533 B), from AWS_NitroEnclaves_Root-G1.zip, base64. */
const AWS_NITRO_ROOT_G1_BASE64 =
  'MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTELMAkGA1UEBhMCVVMxDzANBgNV' +
  'BAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYDVQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMy' +
  'ODA1WhcNNDkxMDI4MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQLDANBV1Mx' +
  'GzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEGBSuBBAAiA2IABPwCVOumCMHzaHDimtqQ' +
  'vkY4MpJzbolL//Zy2YlES1BR5TSksfbb48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTP' +
  'YwEoCWZEh8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkFR+eWw5b6cp3Pmanf' +
  'S5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYCMQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9' +
  'OYCVRaEevL8uO1XYru5xtMPWrfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N' +
  'IwLz3/Y='

/** True if `der` hashes to the Root-G1 pin. */
export function matchesAwsRootPin(der: Uint8Array): boolean {
  return bytesEqual(sha256(der), parseHex(AWS_NITRO_ROOT_G1_SHA256)!)
}

/**
 * The embedded Root-G1 DER (a fresh copy), checked against the pin.
 * @throws Error if the embedded copy does not match the pin: a build defect, never input.
 */
export function awsNitroRootG1Der(): Uint8Array {
  const der = parseBase64(AWS_NITRO_ROOT_G1_BASE64)
  if (der === undefined || !matchesAwsRootPin(der)) throw new Error('embedded AWS Nitro root does not match its pin')
  return der
}

/**
 * Step 5: `cabundle[0]` must hash to the pin or, with `trustedRoot`, equal those bytes.
 * Never trust the root a document brings.
 * @throws AttestationError `ATTESTATION_ROOT_UNTRUSTED`.
 */
export function checkRootPin(root: Uint8Array, trustedRoot: Uint8Array | undefined): void {
  const trusted = trustedRoot === undefined ? matchesAwsRootPin(root) : bytesEqual(root, trustedRoot)
  if (!trusted) throw new AttestationError('ATTESTATION_ROOT_UNTRUSTED')
}
