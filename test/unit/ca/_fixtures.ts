/** Shared inputs and assertions of the CA suites. */
import { expect } from 'vitest'
import { buildCaCertificate, deriveCaKey, type CaCertificate, type CaKey } from '../../../core/ca'
import { KmsError, type ErrorCode } from '../../../core/errors'

/** The PROTOCOL §8.3 master secret `00…1f`. */
export const VECTOR_MASTER = Uint8Array.from({ length: 32 }, (_, index) => index)

export interface TestCa {
  caKey: CaKey
  caCertificate: CaCertificate
}

export function vectorCa(): TestCa {
  const caKey = deriveCaKey(VECTOR_MASTER)
  return { caKey, caCertificate: buildCaCertificate({ caKey, kmsAppId: 49 }) }
}

/** PROTOCOL §11 defaults. */
export const VALIDITY = { defaultSeconds: 604_800, maxSeconds: 2_592_000 }

/** Runs `action`, which must throw a 400 KmsError with exactly this code and message. */
export function expectKmsError(action: () => unknown, code: ErrorCode, message: string): KmsError {
  let caught: unknown
  try {
    action()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(KmsError)
  const error = caught as KmsError
  expect({ status: error.status, ...error.toBody() }).toEqual({ status: 400, code, message })
  return error
}

/** Standard base64 of the DER inside a PEM block. */
export function pemBody(pem: string): string {
  return pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----')).join('')
}

export function base64ToBytes(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0))
}

export function bytesToBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
}

export function csrPem(der: Uint8Array, label = 'CERTIFICATE REQUEST'): string {
  const body = bytesToBase64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '')
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`
}
