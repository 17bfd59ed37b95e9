/**
 * Registry authorization (PROTOCOL §3.3) against an in-memory `AppRegistryView`: the exact
 * refusals in order, transport errors winning, both app and version reads made, and the
 * identity always from the registry.
 */
import { describe, expect, it } from 'vitest'
import { authorizeApp } from '../../../core/auth'
import { KmsError } from '../../../core/errors'
import {
  APP_ID,
  APP_MEASUREMENT,
  APP_WALLET,
  appRecord,
  appTeePubkeyDer,
  INSTANCE_ID,
  instanceRecord,
  MemoryRegistry,
  OTHER_WALLET,
  VERSION_ID,
  versionRecord,
} from './_appAuth'

async function failure(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
  throw new Error('expected a KmsError')
}

const unauthorized = (message: string) => ({ code: 'unauthorized', message })
const VERSION_KEY = `${APP_ID}/${VERSION_ID}`

describe('authorizeApp (PROTOCOL §3.3)', () => {
  it('behavior: an active, zkVerified instance of an active app on an enrolled version is authorized with its registry identity', async () => {
    const registry = await MemoryRegistry.standard()
    const identity = await authorizeApp(APP_WALLET, registry)
    expect(identity).toEqual({
      appId: APP_ID,
      versionId: VERSION_ID,
      instanceId: INSTANCE_ID,
      wallet: APP_WALLET,
      instanceUrl: 'https://app.example',
      teePubkeyDer: await appTeePubkeyDer(),
      codeMeasurement: APP_MEASUREMENT,
    })
    expect(registry.reads).toEqual([`instance ${APP_WALLET}`, `app ${APP_ID}`, `version ${VERSION_KEY}`])
  })

  it('behavior: a deprecated version is still authorized', async () => {
    const registry = await MemoryRegistry.standard()
    registry.versions.set(VERSION_KEY, versionRecord({ status: 1 }))
    expect((await authorizeApp(APP_WALLET, registry)).versionId).toBe(VERSION_ID)
  })

  it('error: Instance not found for a missing instance, instance id 0, or another wallet', async () => {
    const registry = await MemoryRegistry.standard()
    expect(await failure(() => authorizeApp(OTHER_WALLET, registry))).toEqual(unauthorized('Instance not found'))
    const tee = await appTeePubkeyDer()
    registry.instances.set(APP_WALLET, instanceRecord(tee, { instanceId: 0 }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Instance not found'))
    registry.instances.set(APP_WALLET, instanceRecord(tee, { teeWalletAddress: OTHER_WALLET }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Instance not found'))
    // Nothing else is read for an instance that is not found.
    expect(registry.reads.filter((read) => !read.startsWith('instance'))).toEqual([])
  })

  it('error: Instance not active, then Instance not zkVerified', async () => {
    const registry = await MemoryRegistry.standard()
    const tee = await appTeePubkeyDer()
    registry.instances.set(APP_WALLET, instanceRecord(tee, { status: 1, zkVerified: false }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Instance not active'))
    registry.instances.set(APP_WALLET, instanceRecord(tee, { status: 2 }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Instance not active'))
    registry.instances.set(APP_WALLET, instanceRecord(tee, { zkVerified: false }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Instance not zkVerified'))
  })

  it('error: App not active for an inactive or missing app, checked before the version, with both reads made', async () => {
    const registry = await MemoryRegistry.standard()
    registry.apps.set(APP_ID, appRecord({ status: 1 }))
    registry.versions.set(VERSION_KEY, versionRecord({ status: 2 }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('App not active'))
    expect(registry.reads).toContain(`version ${VERSION_KEY}`)
    registry.apps.delete(APP_ID)
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('App not active'))
  })

  it('error: Version revoked for status 2; Version not enrolled or deprecated for anything else outside {0, 1} or a missing version', async () => {
    const registry = await MemoryRegistry.standard()
    registry.versions.set(VERSION_KEY, versionRecord({ status: 2 }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Version revoked'))
    for (const status of [3, 4, 255]) {
      registry.versions.set(VERSION_KEY, versionRecord({ status }))
      expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Version not enrolled or deprecated'))
    }
    registry.versions.delete(VERSION_KEY)
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Version not enrolled or deprecated'))
  })

  it('error: a transport error in any read is 503 registry_unavailable, whatever the other read returned', async () => {
    const unavailable = { code: 'registry_unavailable', message: 'Registry unavailable' }
    const instance = await MemoryRegistry.standard()
    instance.fail.instance = true
    expect(await failure(() => authorizeApp(APP_WALLET, instance))).toEqual(unavailable)

    const app = await MemoryRegistry.standard()
    app.fail.app = true
    app.versions.delete(VERSION_KEY)
    expect(await failure(() => authorizeApp(APP_WALLET, app))).toEqual(unavailable)

    const version = await MemoryRegistry.standard()
    version.fail.version = true
    version.apps.set(APP_ID, appRecord({ status: 1 }))
    expect(await failure(() => authorizeApp(APP_WALLET, version))).toEqual(unavailable)
  })

  it('error: an instance without a usable P-384 teePubkey is 400 after every other check', async () => {
    const registry = await MemoryRegistry.standard()
    const refusal = { code: 'bad_request', message: 'Receiver teePubkey required for response encryption' }
    for (const teePubkey of [new Uint8Array(0), new Uint8Array(120).fill(7), Uint8Array.of(0x04, 1, 2, 3)]) {
      registry.instances.set(APP_WALLET, instanceRecord(teePubkey))
      expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(refusal)
    }
    // A registry refusal wins over the missing key.
    registry.instances.set(APP_WALLET, instanceRecord(new Uint8Array(0), { zkVerified: false }))
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual(unauthorized('Instance not zkVerified'))
  })

  it('behavior: one registry array is checked once and answers the same key after; changed in place, it is checked again', async () => {
    const registry = await MemoryRegistry.standard()
    const der = await appTeePubkeyDer()
    const held = der.slice()
    registry.instances.set(APP_WALLET, instanceRecord(held))
    const first = await authorizeApp(APP_WALLET, registry)
    expect((await authorizeApp(APP_WALLET, registry)).teePubkeyDer).toBe(first.teePubkeyDer)
    expect(first.teePubkeyDer).toEqual(der)
    // The last byte of Y changed: no longer on the curve, so the same array is now refused.
    held[held.length - 1] = held[held.length - 1]! ^ 1
    expect(await failure(() => authorizeApp(APP_WALLET, registry))).toEqual({ code: 'bad_request', message: 'Receiver teePubkey required for response encryption' })
    held[held.length - 1] = held[held.length - 1]! ^ 1
    expect((await authorizeApp(APP_WALLET, registry)).teePubkeyDer).toEqual(der)
  })

  it('behavior: a SEC1 teePubkey is accepted and normalised to DER SPKI', async () => {
    const registry = await MemoryRegistry.standard()
    const der = await appTeePubkeyDer()
    const sec1 = der.slice(der.length - 97)
    expect(sec1[0]).toBe(0x04)
    registry.instances.set(APP_WALLET, instanceRecord(sec1))
    expect((await authorizeApp(APP_WALLET, registry)).teePubkeyDer).toEqual(der)
  })

  it('behavior: the app and version read are those of the instance, never of the request', async () => {
    const registry = await MemoryRegistry.standard()
    const tee = await appTeePubkeyDer()
    registry.instances.set(APP_WALLET, instanceRecord(tee, { appId: 99, versionId: 5 }))
    registry.apps.set(99, appRecord({ appId: 99 }))
    registry.versions.set('99/5', versionRecord({ versionId: 5, status: 1 }))
    const identity = await authorizeApp(APP_WALLET, registry)
    expect(identity.appId).toBe(99)
    expect(identity.versionId).toBe(5)
    expect(registry.reads).toEqual([`instance ${APP_WALLET}`, 'app 99', 'version 99/5'])
  })
})
