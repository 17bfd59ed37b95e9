// Preloaded into the bench's main `node dist/kms.mjs` (`node --import`), with an IPC channel.
// It watches the node's event loop and its garbage collector, and nothing else: the node runs
// unchanged. The latency measurement (bench/latency.ts) sends 'loop-reset' before a round and
// 'loop-read' after it, so it can tell a tail made on the node (its loop stalled: a long task,
// a GC pause) from one made outside it (the request waited for a core, or in a generator).
//
// The loop-delay histogram samples every 5 ms (perf_hooks.monitorEventLoopDelay): a stall
// shorter than that can hide, one longer cannot. Its own cost is a timer every 5 ms.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'

const RESOLUTION_MS = 5
const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
delay.enable()

let gcMs = 0
let gcMaxPauseMs = 0
let gcCount = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration
    gcMaxPauseMs = Math.max(gcMaxPauseMs, entry.duration)
    gcCount++
  }
}).observe({ entryTypes: ['gc'] })

const ms = (nanoseconds) => Math.round(nanoseconds / 1e4) / 100

process.on('message', (message) => {
  if (message === 'loop-reset') {
    delay.reset()
    gcMs = 0
    gcMaxPauseMs = 0
    gcCount = 0
    process.send?.({ reset: true })
  } else if (message === 'loop-read') {
    // The histogram records how late each RESOLUTION_MS timer fired, so its floor is the
    // resolution itself; what is above it is time the loop could not run.
    process.send?.({
      resolution_ms: RESOLUTION_MS,
      loop_delay_p50_ms: ms(delay.percentile(50)),
      loop_delay_p99_ms: ms(delay.percentile(99)),
      loop_delay_max_ms: ms(delay.max),
      gc_ms: Math.round(gcMs * 100) / 100,
      gc_max_pause_ms: Math.round(gcMaxPauseMs * 100) / 100,
      gc_count: gcCount,
    })
  }
})
