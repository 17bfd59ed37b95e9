import { describe, expect, it } from 'vitest'
import { importP384PrivateKey, masterSecretHash } from '../../../core/crypto'
import { KeyRing } from '../../../core/keys'
import { openRecoveryShare, RecoveryShareCollector, splitSecret } from '../../../core/recovery'
import type { RecoveryPolicy } from '../../../core/chain/types'
import { seededRandom } from '../crypto/_random'

const random = seededRandom('collector')
const secret = random.bytes(32)
const secretHash = masterSecretHash(secret)

describe('RecoveryShareCollector', () => {
  it('stores below the threshold, refuses duplicates, combines at the threshold', () => {
    const shares = splitSecret({ secret, shares: 3, threshold: 2, random })
    const collector = new RecoveryShareCollector({ secretHash, policyId: 1, threshold: 2, custodianCount: 3 })
    expect(collector.add(2, shares[2]!)).toEqual({ kind: 'stored', received: 1 })
    expect(collector.add(2, shares[2]!)).toEqual({ kind: 'duplicate' })
    expect(collector.received).toBe(1)
    const done = collector.add(0, shares[0]!)
    expect(done.kind).toBe('recovered')
    expect(done.kind === 'recovered' && done.secret).toEqual(secret)
    expect(collector.answered).toEqual([0, 2])
  })

  it('keeps its shares and reports when the combination is not the chain hash', () => {
    const shares = splitSecret({ secret, shares: 3, threshold: 2, random })
    const collector = new RecoveryShareCollector({ secretHash: new Uint8Array(32), policyId: 1, threshold: 2, custodianCount: 3 })
    collector.add(0, shares[0]!)
    expect(collector.add(1, shares[1]!)).toMatchObject({ kind: 'combine_failed' })
    expect(collector.received).toBe(2)
    expect(collector.lastCombineError).toMatch(/does not match the chain hash/)
  })

  it('is bounded by the policy and tells a different hash or policy apart', () => {
    const collector = new RecoveryShareCollector({ secretHash, policyId: 4, threshold: 2, custodianCount: 3 })
    expect(() => collector.add(3, new Uint8Array(33))).toThrow(RangeError)
    expect(() => collector.add(-1, new Uint8Array(33))).toThrow(RangeError)
    expect(collector.matches(secretHash, 4)).toBe(true)
    expect(collector.matches(secretHash, 5)).toBe(false)
    expect(collector.matches(new Uint8Array(32), 4)).toBe(false)
    expect(() => new RecoveryShareCollector({ secretHash, policyId: 1, threshold: 2, custodianCount: 17 })).toThrow(RangeError)
    expect(() => new RecoveryShareCollector({ secretHash, policyId: 1, threshold: 4, custodianCount: 3 })).toThrow(RangeError)
  })
})

describe('KeyRing backup and recovered install', () => {
  it('builds a backup whose shares the custodians open and that rebuilds the same secret', async () => {
    const scalars = [1, 2, 3].map((i) => seededRandom(`cust-${i}`).bytes(48))
    const keys = await Promise.all(scalars.map(importP384PrivateKey))
    const policy: RecoveryPolicy = {
      policyId: 7,
      threshold: 2,
      custodians: keys.map((k, i) => ({ sealingKeyDer: k.publicKey.der, approver: `0x${String(i + 1).repeat(40)}` as const })),
    }
    const ring = new KeyRing({ kmsAppId: 1 })
    await expect(ring.buildRecoveryBackup({ policy, chainId: 31337, kmsRegistry: '0x00000000000000000000000000000000000000aa', random })).rejects.toMatchObject({ code: 'service_unavailable' })
    await ring.install(secret, 'generated')
    const backup = await ring.buildRecoveryBackup({ policy, chainId: 31337, kmsRegistry: '0x00000000000000000000000000000000000000aa', random })
    expect(backup.secretHash).toEqual(secretHash)
    expect(backup.sealedShares).toHaveLength(3)
    const plain = await Promise.all(
      keys.map((key, index) =>
        openRecoveryShare({
          custodianKey: key,
          sealedShare: backup.sealedShares[index]!,
          commitment: backup.shareCommitments[index]!,
          expected: { chainId: 31337, kmsRegistry: '0x00000000000000000000000000000000000000aa', secretHash, policyId: 7, index, threshold: 2 },
        }),
      ),
    )
    const fresh = new KeyRing({ kmsAppId: 1 })
    const collector = new RecoveryShareCollector({ secretHash, policyId: 7, threshold: 2, custodianCount: 3 })
    collector.add(0, plain[0]!)
    collector.add(2, plain[2]!)
    expect(await fresh.installRecovered(collector)).toBe('recovered')
    expect(fresh.state).toBe('recovered')
    expect(fresh.matches(secretHash)).toBe(true)
    const params = { appId: 5, path: 'p', context: '', length: 32 }
    expect(await fresh.deriveAppKey(params)).toEqual(await ring.deriveAppKey(params))
    expect(fresh.certificateAuthority().caCertificate).toEqual(ring.certificateAuthority().caCertificate)
  })

  it('refuses a policy with a key that is not a P-384 point, sealing nothing', async () => {
    const ring = new KeyRing({ kmsAppId: 1 })
    await ring.install(secret, 'generated')
    const good = await importP384PrivateKey(seededRandom('cust-1').bytes(48))
    const policy: RecoveryPolicy = {
      policyId: 1,
      threshold: 1,
      custodians: [
        { sealingKeyDer: good.publicKey.der, approver: '0x1111111111111111111111111111111111111111' },
        { sealingKeyDer: new Uint8Array(120), approver: '0x2222222222222222222222222222222222222222' },
      ],
    }
    await expect(ring.buildRecoveryBackup({ policy, chainId: 1, kmsRegistry: '0x00000000000000000000000000000000000000aa', random })).rejects.toThrow(/not a P-384/)
  })
})
