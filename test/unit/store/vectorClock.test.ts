import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { Wallet } from '../../../core/encoding'
import { compareClocks, incrementClock, mergeClocks, type VectorClock } from '../../../core/store'
import { A, B, C, vclock } from './_helpers'

const sorted = (clock: VectorClock) => [...clock].sort(([x], [y]) => (x < y ? -1 : 1))

describe('compareClocks (PROTOCOL §6.5)', () => {
  test.each([
    ['{} and {} are equal', {}, {}, 'equal'],
    ['{a:1} and {a:1} are equal', { [A]: 1 }, { [A]: 1 }, 'equal'],
    ['{a:1} happened-before {a:2}', { [A]: 1 }, { [A]: 2 }, 'before'],
    ['{a:1} happened-before {a:1,b:1}', { [A]: 1 }, { [A]: 1, [B]: 1 }, 'before'],
    ['{} happened-before {a:1}', {}, { [A]: 1 }, 'before'],
    ['{a:2} and {a:1,b:1} are concurrent', { [A]: 2 }, { [A]: 1, [B]: 1 }, 'concurrent'],
  ] as const)('vector: %s', (_name, x, y, order) => {
    expect(compareClocks(vclock(x), vclock(y))).toBe(order)
    const mirrored = { equal: 'equal', before: 'after', concurrent: 'concurrent' } as const
    expect(compareClocks(vclock(y), vclock(x))).toBe(mirrored[order])
  })

  test('behavior: entry order does not matter', () => {
    expect(compareClocks(vclock({ [A]: 1, [B]: 2 }), vclock({ [B]: 2, [A]: 1 }))).toBe('equal')
  })
})

describe('mergeClocks (PROTOCOL §6.5)', () => {
  test('vector: max({a:2}, {a:1,b:1}) = {a:2,b:1}', () => {
    expect(sorted(mergeClocks(vclock({ [A]: 2 }), vclock({ [A]: 1, [B]: 1 })))).toEqual([
      [A, 2],
      [B, 1],
    ])
  })

  test('behavior: leaves its inputs untouched', () => {
    const x = vclock({ [A]: 1 })
    mergeClocks(x, vclock({ [B]: 3 }))
    expect(sorted(x)).toEqual([[A, 1]])
  })
})

describe('incrementClock (PROTOCOL §6.2)', () => {
  test('behavior: starts a missing entry at 1 and copies the rest', () => {
    const start = vclock({ [B]: 4 })
    expect(sorted(incrementClock(start, A))).toEqual([
      [A, 1],
      [B, 4],
    ])
    expect(sorted(incrementClock(vclock({ [A]: 1, [B]: 4 }), A))).toEqual([
      [A, 2],
      [B, 4],
    ])
    expect(sorted(start)).toEqual([[B, 4]])
  })

  test('error: refuses to leave the safe-integer range', () => {
    expect(() => incrementClock(vclock({ [A]: Number.MAX_SAFE_INTEGER }), A)).toThrow(RangeError)
  })
})

const arbClock = fc
  .dictionary(fc.constantFrom<Wallet>(A, B, C), fc.integer({ min: 1, max: 4 }), { maxKeys: 3 })
  .map((entries) => vclock(entries))

describe('clock laws', () => {
  test('property: compare is antisymmetric', () => {
    const mirror = { equal: 'equal', before: 'after', after: 'before', concurrent: 'concurrent' } as const
    fc.assert(fc.property(arbClock, arbClock, (x, y) => compareClocks(y, x) === mirror[compareClocks(x, y)]))
  })

  test('property: the max is the least upper bound of both clocks', () => {
    fc.assert(
      fc.property(arbClock, arbClock, (x, y) => {
        const max = mergeClocks(x, y)
        expect(['equal', 'before']).toContain(compareClocks(x, max))
        expect(['equal', 'before']).toContain(compareClocks(y, max))
        expect(sorted(mergeClocks(y, x))).toEqual(sorted(max))
        for (const [wallet, value] of max) expect(value).toBe(Math.max(x.get(wallet) ?? 0, y.get(wallet) ?? 0))
      }),
    )
  })

  test('property: an increment happens after its source', () => {
    fc.assert(fc.property(arbClock, fc.constantFrom<Wallet>(A, B, C), (x, w) => compareClocks(x, incrementClock(x, w)) === 'before'))
  })
})
