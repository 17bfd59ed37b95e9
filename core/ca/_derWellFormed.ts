import { DerError, DerTag, readDerBoolean, readDerChildren, readDerInteger, type DerElement } from '../encoding'

/**
 * Walks every element under `root` and checks the DER rules that the structural parse of
 * a CSR does not reach by itself: the parts Nova KMS ignores (subject values, attributes,
 * requested extensions, algorithm parameters) must still be well-formed DER (PROTOCOL §8.4).
 * - constructed form only for SEQUENCE, SET and tagged types (X.690 §10.2: strings are
 *   primitive in DER);
 * - BOOLEAN 00/ff, minimal INTEGER, empty NULL (X.690 §8.2, §8.3, §11.1);
 * - OBJECT IDENTIFIER subidentifiers minimal and complete (X.690 §8.19), with no limit on
 *   an arc's size, since 2.25.<uuid> OIDs are legitimate;
 * - BIT STRING unused bits 0..7 and zero (X.690 §11.2).
 * Iterative, so nesting depth cannot exhaust the stack.
 * @throws DerError
 */
export function assertWellFormedDer(root: DerElement): void {
  const pending: DerElement[] = [root]
  for (let element = pending.pop(); element !== undefined; element = pending.pop()) {
    const universal = (element.tag & 0xc0) === 0
    if ((element.tag & 0x20) !== 0) {
      if (universal && element.tag !== DerTag.SEQUENCE && element.tag !== DerTag.SET) {
        throw new DerError('constructed encoding of a primitive type')
      }
      for (const child of readDerChildren(element)) pending.push(child)
    } else if (universal) {
      assertPrimitive(element)
    }
  }
}

function assertPrimitive(element: DerElement): void {
  const { content } = element
  switch (element.tag) {
    case 0x00:
      throw new DerError('end-of-contents without an indefinite length')
    case DerTag.SEQUENCE & 0x1f:
    case DerTag.SET & 0x1f:
      throw new DerError('primitive SEQUENCE or SET')
    case DerTag.BOOLEAN:
      readDerBoolean(element, 'BOOLEAN')
      return
    case DerTag.INTEGER:
      readDerInteger(element, 'INTEGER')
      return
    case DerTag.NULL:
      if (content.length !== 0) throw new DerError('non-empty NULL')
      return
    case DerTag.OID:
      if (content.length === 0 || content[content.length - 1]! >= 0x80) throw new DerError('truncated OID')
      for (let index = 0; index < content.length; index++) {
        const startsSubidentifier = index === 0 || content[index - 1]! < 0x80
        if (startsSubidentifier && content[index] === 0x80) throw new DerError('non-minimal OID')
      }
      return
    case DerTag.BIT_STRING: {
      const unused = content[0]
      if (unused === undefined || unused > 7 || (content.length === 1 && unused !== 0)) {
        throw new DerError('invalid BIT STRING')
      }
      if ((content[content.length - 1]! & ((1 << unused) - 1)) !== 0) throw new DerError('non-zero unused bits')
      return
    }
  }
}
