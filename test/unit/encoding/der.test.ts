import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DerError, bytesToHex, derOid, derSequence, derTime, derUnsignedInteger, parseDer, parseHex,
  readDerBoolean, readDerInteger, readDerOid, readDerSequence, readDerTime, readDerElement,
} from '../../../core/encoding'

const hex = (text: string): Uint8Array => parseHex(text)!

describe('DER reader and writer (X.690 §10)', () => {
  it('behavior: reads an openssl-made certificate and its fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'der-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', join(dir, 'k.pem'),
      '-out', join(dir, 'c.der'), '-outform', 'DER', '-subj', '/CN=der-test', '-days', '1'], { stdio: 'ignore' })
    const certificate = readDerSequence(parseDer(new Uint8Array(readFileSync(join(dir, 'c.der')))), 'certificate')
    expect(certificate).toHaveLength(3)
    const tbs = readDerSequence(certificate[0], 'tbs')
    expect(readDerOid(readDerSequence(certificate[1], 'algorithm')[0], 'oid')).toMatch(/^1\.2\.840\.10045\.4\.3\./)
    const [notBefore, notAfter] = readDerSequence(tbs[4], 'validity')
    expect(readDerTime(notAfter, 'notAfter') - readDerTime(notBefore, 'notBefore')).toBe(86_400)
  })
  it('vector: OIDs encode and decode', () => {
    expect(bytesToHex(derOid('1.2.840.10045.4.3.3'))).toBe('06082a8648ce3d040303')
    expect(bytesToHex(derOid('2.5.29.19'))).toBe('0603551d13')
    expect(readDerOid(parseDer(hex('06082a8648ce3d040303')), 'oid')).toBe('1.2.840.10045.4.3.3')
    expect(readDerOid(parseDer(hex('060388370c')), 'oid')).toBe('2.999.12')
  })
  it('vector: times switch from UTCTime to GeneralizedTime at 2050 (RFC 5280 §4.1.2.5)', () => {
    const y2049 = Date.UTC(2049, 11, 31, 23, 59, 59) / 1000
    const y2050 = Date.UTC(2050, 0, 1) / 1000
    expect(bytesToHex(derTime(y2049))).toBe('170d' + bytesToHex(new TextEncoder().encode('491231235959Z')))
    expect(bytesToHex(derTime(y2050))).toBe('180f' + bytesToHex(new TextEncoder().encode('20500101000000Z')))
    expect(readDerTime(parseDer(derTime(y2049)), 't')).toBe(y2049)
    expect(readDerTime(parseDer(derTime(y2050)), 't')).toBe(y2050)
    expect(readDerTime(parseDer(hex('170d3530303130313030303030305a')), 't')).toBe(Date.UTC(1950, 0, 1) / 1000)
  })
  it('vector: integers are minimal and unsigned ones get a sign byte', () => {
    expect(bytesToHex(derUnsignedInteger(hex('0080')))).toBe('02020080')
    expect(bytesToHex(derUnsignedInteger(hex('000001')))).toBe('020101')
    expect(bytesToHex(derUnsignedInteger(new Uint8Array(0)))).toBe('020100')
  })
  it('error: non-minimal, indefinite, truncated, trailing and high-tag encodings are refused', () => {
    const bad = ['3080', '30810100', '020200ff'.replace('00ff', '0001'), '0202ff80', '3003020101ff', '300302', '1f0100', '010101', '02820001']
    for (const text of bad) {
      expect(() => {
        const element = parseDer(hex(text))
        if (element.tag === 0x30) readDerSequence(element, 's')
        if (element.tag === 0x02) readDerInteger(element, 'i')
        if (element.tag === 0x01) readDerBoolean(element, 'b')
      }, text).toThrow(DerError)
    }
  })
  it('property: random bytes either parse or raise DerError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const element = readDerElement(bytes, 0)
        if (element.tag & 0x20) readDerSequence({ ...element, tag: 0x30 }, 'x')
      } catch (error) {
        expect(error).toBeInstanceOf(DerError)
      }
    }))
  })
  it('property: nested sequences round-trip', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), (values) => {
      const encoded = derSequence(...values.map((value) => derUnsignedInteger(value)))
      expect(readDerSequence(parseDer(encoded), 'seq')).toHaveLength(values.length)
    }))
  })
})
