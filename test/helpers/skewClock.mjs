// Test-only preload for `node --import <this file> dist/kms.mjs` (issue 14, the clock-skew
// fault suite): shifts the wall clock the node reads. The node's only clock is Date.now()
// (functions/_runtime.ts systemClock; core/ never reads time itself), so moving Date.now
// moves everything that depends on time: PoP and attestation windows, record timestamps,
// the §6.7 skew check, the peer and registry caches and the tick schedule. performance.now()
// (durations and deadlines) is left alone, as a host that steps the wall clock leaves the
// monotonic one alone.
//
// The offset starts at NOVA_TEST_CLOCK_OFFSET_MS (default 0) and is changed by an IPC message
// {"type":"clock-offset","offsetMs":N}, answered with the same message once applied. Nothing
// in the product reads this file or that variable; production runs `node dist/kms.mjs` alone.
const initial = Number(process.env.NOVA_TEST_CLOCK_OFFSET_MS ?? '0')
let offsetMs = Number.isFinite(initial) ? initial : 0
const realNow = Date.now.bind(Date)
Date.now = () => realNow() + offsetMs
process.on('message', (message) => {
  if (typeof message !== 'object' || message === null || message.type !== 'clock-offset') return
  if (typeof message.offsetMs === 'number' && Number.isFinite(message.offsetMs)) offsetMs = message.offsetMs
  process.send?.({ type: 'clock-offset', offsetMs, nowMs: Date.now() })
})
