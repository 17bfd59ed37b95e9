/** The real clock and randomness for the bundle's Node scripts (devnet, CLI); see `functions/_runtime.ts`. */
export { systemClock, timerSleep, webCryptoRandom } from '../functions/_runtime'
