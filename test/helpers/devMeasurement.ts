/**
 * The dev measurement: keccak256 of PCR0‖PCR1‖PCR2 all zero, what every document of the dev
 * stand-in measures and what the deploy code enrolls for the KMS version by default
 * (contracts/deploy/deploy.ts DEFAULT_KMS_VERSION). Registry doubles give it to their KMS
 * version so that peer attestation (PROTOCOL §4.5) passes in dev mode.
 */
import { codeMeasurement } from '../../core/attestation'

const zeroPcr = (): Uint8Array => new Uint8Array(48)

export const DEV_CODE_MEASUREMENT: Uint8Array = codeMeasurement(new Map([[0, zeroPcr()], [1, zeroPcr()], [2, zeroPcr()]]))
