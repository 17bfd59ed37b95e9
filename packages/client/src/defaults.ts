/**
 * The real clock, randomness and sleep an app passes to the clients: the same defaults a
 * node gets (functions/_runtime.ts), re-exported. The SDK itself never reads the wall clock
 * or a random source (DESIGN §3). Nothing runs at import time: workerd forbids crypto at
 * module scope.
 */
export { systemClock, webCryptoRandom as cryptoRandom, timerSleep } from '../../../functions/_runtime'
