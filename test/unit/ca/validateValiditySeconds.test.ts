/** PROTOCOL §8.4 check 5 and §11: `validity_seconds` (§13 item 101). */
import { describe, expect, test } from 'vitest'
import { validateValiditySeconds } from '../../../core/ca'
import { VALIDITY, expectKmsError } from './_fixtures'

describe('validateValiditySeconds', () => {
  test('behavior: absent gives CA_DEFAULT_VALIDITY_SECONDS (7 days)', () => {
    expect(validateValiditySeconds(undefined, VALIDITY)).toBe(604_800)
  })

  test.each([1, 60, 604_800, 2_592_000])('behavior: %s is accepted as is', (value) => {
    expect(validateValiditySeconds(value, VALIDITY)).toBe(value)
  })

  test.each([
    ['2592001 (max + 1)', 2_592_001],
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a numeric string', '3600'],
    ['a boolean', true],
    ['null', null],
    ['an object', { seconds: 60 }],
    ['an array', [60]],
    ['a bigint', 60n],
  ])('error: %s', (_, value) => {
    expectKmsError(() => validateValiditySeconds(value, VALIDITY), 'bad_request', "'validity_seconds' must be in range 1..2592000")
  })

  test('error: the message names the configured maximum', () => {
    expectKmsError(() => validateValiditySeconds(61, { defaultSeconds: 30, maxSeconds: 60 }), 'bad_request', "'validity_seconds' must be in range 1..60")
  })
})
