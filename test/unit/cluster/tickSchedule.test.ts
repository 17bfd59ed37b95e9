/**
 * When ticks are due (core/cluster/tickSchedule.ts, PROTOCOL §7.1, §7.4): node_tick at start
 * and every interval, sooner while the node is unavailable; sync_tick one interval after
 * start; runs never overlap.
 */
import { describe, expect, test } from 'vitest'
import { TickSchedule, UNAVAILABLE_RETRY_SECONDS } from '../../../core/cluster'
import { FakeClock } from '../../helpers/fakeClock'

function schedule(nodeTickSeconds = 60, dataSyncIntervalSeconds = 10): { clock: FakeClock; ticks: TickSchedule } {
  const clock = new FakeClock(1_700_000_000_000)
  return { clock, ticks: new TickSchedule(clock, { nodeTickSeconds, dataSyncIntervalSeconds }) }
}

describe('TickSchedule', () => {
  test('behavior: node_tick is due at start, then once per interval', async () => {
    const { clock, ticks } = schedule()
    expect(ticks.isDue('node_tick')).toBe(true)
    await ticks.run('node_tick', async () => undefined)
    clock.advanceSeconds(59.999)
    expect(ticks.isDue('node_tick')).toBe(false)
    clock.advanceSeconds(0.001)
    expect(ticks.isDue('node_tick')).toBe(true)
  })

  test('behavior: sync_tick is first due one interval after start', () => {
    const { clock, ticks } = schedule()
    expect(ticks.isDue('sync_tick')).toBe(false)
    clock.advanceSeconds(10)
    expect(ticks.isDue('sync_tick')).toBe(true)
  })

  test('behavior: an unavailable node retries node_tick after 5 s, not after its 60 s interval', async () => {
    expect(UNAVAILABLE_RETRY_SECONDS).toBe(5)
    const { clock, ticks } = schedule()
    await ticks.run('node_tick', async () => undefined)
    clock.advanceSeconds(4.999)
    expect(ticks.isDue('node_tick', false)).toBe(false)
    clock.advanceSeconds(0.001)
    expect(ticks.isDue('node_tick', false)).toBe(true)
    expect(ticks.isDue('node_tick', true)).toBe(false) // an available node keeps its interval
    // sync_tick does not change with availability: it does nothing while unavailable anyway.
    clock.advanceSeconds(4)
    expect(ticks.isDue('sync_tick', false)).toBe(false)
  })

  test('behavior: an interval under 5 s is kept while unavailable', async () => {
    const { clock, ticks } = schedule(2)
    await ticks.run('node_tick', async () => undefined)
    clock.advanceSeconds(2)
    expect(ticks.isDue('node_tick', false)).toBe(true)
  })

  test('behavior: a run in progress is joined, not started twice', async () => {
    const { ticks } = schedule()
    let runs = 0
    let release = (): void => undefined
    const body = () => new Promise<void>((resolve) => ((runs++), (release = resolve)))
    const first = ticks.run('node_tick', body)
    const second = ticks.run('node_tick', body)
    release()
    await Promise.all([first, second])
    expect(runs).toBe(1)
  })
})

test('behavior: isRunning is true only while a run is under way', async () => {
  const { ticks } = schedule()
  let release = (): void => undefined
  const run = ticks.run('sync_tick', () => new Promise<void>((resolve) => (release = resolve)))
  expect(ticks.isRunning('sync_tick')).toBe(true)
  expect(ticks.isRunning('node_tick')).toBe(false)
  release()
  await run
  expect(ticks.isRunning('sync_tick')).toBe(false)
})

test('behavior: a clock moved back makes both ticks due at once, and the count restarts from the new time', async () => {
  const { clock, ticks } = schedule(60, 10)
  await ticks.run('node_tick', async () => undefined)
  clock.advanceSeconds(10)
  await ticks.run('sync_tick', async () => undefined)
  clock.advanceSeconds(-30) // the host moves the clock back
  expect(ticks.isDue('node_tick')).toBe(true)
  expect(ticks.isDue('sync_tick')).toBe(true)
  await ticks.run('sync_tick', async () => undefined)
  clock.advanceSeconds(9.999)
  expect(ticks.isDue('sync_tick')).toBe(false)
  clock.advanceSeconds(0.001)
  expect(ticks.isDue('sync_tick')).toBe(true)
})
