/**
 * `core/encoding`: hex, base64, canonical JSON, wallet canonical form and byte helpers
 * (PROTOCOL §0). Parsers return `undefined` for invalid input; the caller, which knows the
 * field, turns that into the right `KmsError`.
 *
 * @module
 */
export { bytesToHex, parseHex } from './hex'
export { bytesToBase64, parseBase64, parseBase64Text, parseAttestationNonce } from './base64'
export { canonicalJson, compareCodePoints, type JsonValue } from './canonicalJson'
export { parseWallet, isCanonicalWallet, type Wallet } from './wallet'
export {
  utf8ToBytes,
  parseUtf8,
  concatBytes,
  bytesEqual,
  constantTimeEqual,
  compareBytes,
  utf8Length,
} from './bytes'
export {
  DerError,
  DerTag,
  type DerElement,
  readDerElement,
  parseDer,
  readDerChildren,
  expectDerTag,
  readDerSequence,
  readDerInteger,
  readDerUnsignedInteger,
  readDerSmallInteger,
  readDerBoolean,
  readDerBitStringBytes,
  readDerOid,
  readDerTime,
  derTlv,
  derSequence,
  derSet,
  derUnsignedInteger,
  derSmallInteger,
  derBoolean,
  derNull,
  derOid,
  derOctetString,
  derBitString,
  derUtf8String,
  derIa5String,
  derTime,
  derExplicit,
  derImplicitPrimitive,
} from './der'
