import { describe, expect, test } from 'vitest'
import { ByteSlab, SLAB_MAX_BYTES } from '../../../core/store/_byteSlab'

const bytes = (fill: number, length: number) => new Uint8Array(length).fill(fill)
const read = (slab: ReturnType<ByteSlab['hold']>, length: number) => [...slab.page.subarray(slab.offset, slab.offset + length)]

describe('ByteSlab: the pages behind held ciphertexts (§6.4 memory)', () => {
  test('behavior: small values share a page, each a copy of its own bytes', () => {
    const slab = new ByteSlab()
    const first = bytes(1, 28)
    const a = slab.hold(first)
    const b = slab.hold(bytes(2, 100))
    expect(b.page).toBe(a.page)
    expect(b.offset).toBe(28)
    first.fill(9) // the caller's array is not the held one
    expect(read(a, 28)).toEqual(new Array(28).fill(1))
    expect(read(b, 100)).toEqual(new Array(100).fill(2))
    expect(slab.liveBytes).toBe(128)
  })

  test(`behavior: a value over ${SLAB_MAX_BYTES} bytes gets a buffer of its own, and counts nothing here`, () => {
    const slab = new ByteSlab()
    const long = bytes(3, SLAB_MAX_BYTES + 1)
    const held = slab.hold(long)
    expect(held.page).not.toBe(long)
    expect(held.page.length).toBe(SLAB_MAX_BYTES + 1)
    expect(held.offset).toBe(0)
    expect(slab.liveBytes).toBe(0)
    slab.release(SLAB_MAX_BYTES + 1)
    expect(slab.deadBytes).toBe(0)
    expect(slab.hold(new Uint8Array(0)).page.length).toBe(0)
  })

  test('behavior: released bytes are dead; past half the live ones (and a page of slack) the slab wants compaction', () => {
    const slab = new ByteSlab()
    for (let index = 0; index < 40; index++) slab.hold(bytes(index, 100))
    expect(slab.liveBytes).toBe(4000)
    // A full page's unused end counts as dead too, so take the dead bytes as the slab reports them.
    const tails = slab.deadBytes
    let released = 0
    while (!slab.wantsCompaction) {
      slab.release(100)
      released += 100
    }
    expect(slab.deadBytes).toBe(tails + released)
    expect(slab.deadBytes).toBeGreaterThan(slab.liveBytes / 2 + 256)
    expect(slab.deadBytes - 100).toBeLessThanOrEqual((slab.liveBytes + 100) / 2 + 256)
  })

  test('behavior: restart forgets every page, and a placement made before keeps its bytes', () => {
    const slab = new ByteSlab()
    const before = slab.hold(bytes(7, 50))
    slab.release(50)
    slab.restart()
    expect([slab.liveBytes, slab.deadBytes]).toEqual([0, 0])
    const after = slab.hold(bytes(8, 50))
    expect(after.page).not.toBe(before.page)
    expect(read(before, 50)).toEqual(new Array(50).fill(7))
  })

  test('behavior: pages are append-only: many values never overwrite an earlier placement', () => {
    const slab = new ByteSlab()
    const placements = Array.from({ length: 2000 }, (_, index) => [slab.hold(bytes(index & 0xff, 28 + (index % 997))), index] as const)
    for (const [placement, index] of placements) expect(read(placement, 28 + (index % 997))).toEqual(new Array(28 + (index % 997)).fill(index & 0xff))
  })
})
