/** The devnet.json fields the runtime reads (platform/config/parseDevnetConfig.ts). */
import { describe, expect, it } from 'vitest'
import { privateKeyToWallet } from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import { DevnetConfigError, parseDevnetConfig } from '../../../platform/config/parseDevnetConfig'

const walletKey = new Uint8Array(32).fill(1)
const app = { appId: 1000, wallet: privateKeyToWallet(walletKey), walletKey: bytesToHex(walletKey), teeScalar: '11'.repeat(48) }
const devnet = {
  rpcUrl: 'http://127.0.0.1:8545',
  kmsAppId: 49,
  contracts: { novaAppRegistry: `0x${'aa'.repeat(20)}`, kmsRegistry: `0x${'bb'.repeat(20)}`, owner: `0x${'cc'.repeat(20)}` },
  nodes: [],
  apps: [{ ...app, appId: 999 }, app],
}

describe('parseDevnetConfig', () => {
  it('behavior: picks the app by appId, with the KMS integration', () => {
    const config = parseDevnetConfig(devnet, 1000)
    expect(config).toMatchObject({ appId: 1000, wallet: app.wallet, kms: { rpcUrl: devnet.rpcUrl, kmsAppId: 49, novaAppRegistry: devnet.contracts.novaAppRegistry, kmsRegistry: devnet.contracts.kmsRegistry } })
    expect(bytesToHex(config.teeScalar)).toBe(app.teeScalar)
  })

  it('behavior: pcrs gives PCR0..2 of the documents, 0x optional; without it they stay zero', () => {
    const pcrs = { '0': 'a0'.repeat(48), '1': `0x${'a1'.repeat(48)}`, '2': 'A2'.repeat(48) }
    const config = parseDevnetConfig({ ...devnet, apps: [{ ...app, pcrs }] }, 1000)
    expect([...config.pcrs!].map(([index, value]) => [index, bytesToHex(value)])).toEqual([[0, 'a0'.repeat(48)], [1, 'a1'.repeat(48)], [2, 'a2'.repeat(48)]])
    expect(parseDevnetConfig(devnet, 1000).pcrs).toBeUndefined()
  })

  it('behavior: without kmsAppId there is no KMS integration', () => {
    expect(parseDevnetConfig({ apps: [app] }, 1000).kms).toBeUndefined()
  })

  it.each([
    [{ ...devnet, apps: [] }, 'no app with appId 1000 in apps'],
    [{ ...devnet, apps: undefined }, 'apps must be an array'],
    [{ ...devnet, apps: [{ ...app, walletKey: '12' }] }, 'apps[0].walletKey must be 32 bytes of hex'],
    [{ ...devnet, apps: [{ ...app, walletKey: '00'.repeat(32) }] }, 'apps[0].walletKey is not a valid key'],
    [{ ...devnet, apps: [{ ...app, wallet: `0x${'00'.repeat(20)}` }] }, 'apps[0].wallet is not the address of apps[0].walletKey'],
    [{ ...devnet, apps: [{ ...app, teeScalar: '00'.repeat(48) }] }, 'apps[0].teeScalar is not a valid P-384 scalar'],
    [{ ...devnet, rpcUrl: undefined }, 'rpcUrl must be a URL'],
    [{ ...devnet, apps: [{ ...app, pcrs: ['aa'.repeat(48)] }] }, 'apps[0].pcrs must be an object with exactly the keys "0", "1" and "2"'],
    [{ ...devnet, apps: [{ ...app, pcrs: { '0': 'aa'.repeat(48), '1': 'aa'.repeat(48) } }] }, 'apps[0].pcrs must be an object with exactly the keys "0", "1" and "2"'],
    [{ ...devnet, apps: [{ ...app, pcrs: { '0': 'aa'.repeat(48), '1': 'aa'.repeat(48), '2': 'aa'.repeat(48), '3': 'aa'.repeat(48) } }] }, 'apps[0].pcrs must be an object with exactly the keys "0", "1" and "2"'],
    [{ ...devnet, apps: [{ ...app, pcrs: { '0': 'aa'.repeat(48), '1': 'aa'.repeat(32), '2': 'aa'.repeat(48) } }] }, 'apps[0].pcrs.1 must be 48 bytes of hex'],
    [{ ...devnet, apps: [{ ...app, pcrs: { '0': 'aa'.repeat(48), '1': 'aa'.repeat(48), '2': 'zz'.repeat(48) } }] }, 'apps[0].pcrs.2 must be 48 bytes of hex'],
    [{ ...devnet, apps: [{ ...app, pcrs: { '0': 48, '1': 'aa'.repeat(48), '2': 'aa'.repeat(48) } }] }, 'apps[0].pcrs.0 must be 48 bytes of hex'],
    [{ ...devnet, contracts: { ...devnet.contracts, kmsRegistry: 'nope' } }, 'contracts.kmsRegistry must be an address'],
  ])('error: %#: %s', (json, message) => {
    expect(() => parseDevnetConfig(json, 1000)).toThrow(new DevnetConfigError(message))
  })
})
