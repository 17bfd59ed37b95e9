// Preloaded into `node dist/kms.mjs` by bench/memory.ts (`node --expose-gc --import`). It
// answers a 'memory' message on the IPC channel with process.memoryUsage() taken after two
// full collections, so that heap figures are live data rather than garbage. It does nothing
// else: the node itself runs unchanged.
process.on('message', (message) => {
  if (message !== 'memory') return
  globalThis.gc?.()
  globalThis.gc?.()
  process.send?.({ ...process.memoryUsage() })
})
