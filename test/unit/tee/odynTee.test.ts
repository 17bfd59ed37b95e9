/**
 * The Odyn client on the wire (PROTOCOL §10.1): exact request shapes, answer parsing, and
 * error mapping (every failure 503, except decrypt's 400, which is decryption_failed).
 */
import { describe, expect, test } from 'vitest'
import { importP384PrivateKey } from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { createOdynTee, type FetchFunction, type Tee } from '../../../core/tee'
import { rejectionBody } from '../crypto/_errors'

const BASE = 'http://127.0.0.1:18000'
const UNAVAILABLE = { code: 'service_unavailable', message: 'Enclave helper unavailable' }
const keyA = await importP384PrivateKey(new Uint8Array(48).fill(0x11))
const keyB = await importP384PrivateKey(new Uint8Array(48).fill(0x22))
const DER_A = bytesToHex(keyA.publicKey.der)
const DER_B = bytesToHex(keyB.publicKey.der)
const SIGNATURE_V0 = `0x${'AB'.repeat(64)}00`
const DOCUMENT = Uint8Array.of(0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0)

/** Happy answers, keyed by path. */
const ANSWERS: Record<string, () => Response> = {
  '/v1/eth/address': () => Response.json({ address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', public_key: '0x04' }),
  '/v1/eth/sign': () => Response.json({ signature: SIGNATURE_V0, address: '0x00', attestation: null }),
  '/v1/eth/sign-tx': () => Response.json({ raw_transaction: '0x02F86C', transaction_hash: '0x', signature: '0x', address: '0x', attestation: null }),
  '/v1/random': () => Response.json({ random_bytes: `0x${'5a'.repeat(32)}` }),
  '/v1/encryption/public_key': () => Response.json({ public_key_der: `0x${DER_A}`, public_key_pem: '' }),
  '/v1/encryption/encrypt': () =>
    Response.json({ encrypted_data: 'c0'.repeat(20), enclave_public_key: DER_A, nonce: '0c'.repeat(12) }),
  '/v1/encryption/decrypt': () => Response.json({ plaintext: '{"ok":true}' }),
  '/v1/attestation': () => new Response(DOCUMENT, { headers: { 'content-type': 'application/cbor' } }),
}

interface Recorded {
  url: string
  method: string | undefined
  contentType: string | null
  body: unknown
  signal: AbortSignal | null | undefined
}

function recordingFetch(answer: (path: string) => Response | Promise<Response> = (path) => ANSWERS[path]!()) {
  const calls: Recorded[] = []
  const fetch: FetchFunction = async (url, init) => {
    calls.push({
      url,
      method: init.method,
      contentType: new Headers(init.headers).get('content-type'),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : init.body,
      signal: init.signal,
    })
    return answer(new URL(url).pathname)
  }
  return { fetch, calls }
}

/** One call of each method, with valid arguments. */
const CALLS: Array<{ name: string; path: string; run: (tee: Tee) => Promise<unknown> }> = [
  { name: 'getWallet', path: '/v1/eth/address', run: (tee) => tee.getWallet() },
  { name: 'signMessage', path: '/v1/eth/sign', run: (tee) => tee.signMessage('m') },
  {
    name: 'signTransaction',
    path: '/v1/eth/sign-tx',
    run: (tee) =>
      tee.signTransaction({
        chainId: 1,
        nonce: 0,
        maxPriorityFeePerGas: 1n,
        maxFeePerGas: 2n,
        gas: 3n,
        to: '0x6a28d24c9aecdcec9b021ee6960fdde592796af7',
        value: 0n,
        data: '0x',
      }),
  },
  { name: 'randomBytes', path: '/v1/random', run: (tee) => tee.randomBytes() },
  { name: 'getEncryptionPublicKey', path: '/v1/encryption/public_key', run: (tee) => tee.getEncryptionPublicKey() },
  { name: 'encrypt', path: '/v1/encryption/encrypt', run: (tee) => tee.encrypt('p', keyB.publicKey.der) },
  {
    name: 'decrypt',
    path: '/v1/encryption/decrypt',
    run: (tee) => tee.decrypt({ nonce: new Uint8Array(12), senderPublicKeyDer: keyB.publicKey.der, encryptedData: new Uint8Array(16) }),
  },
  { name: 'getAttestation', path: '/v1/attestation', run: (tee) => tee.getAttestation({ nonce: new Uint8Array(16) }) },
]

describe('Odyn client: wire shapes (PROTOCOL §10.1)', () => {
  test('behavior: GET /v1/eth/address, canonicalised', async () => {
    const { fetch, calls } = recordingFetch()
    expect(await createOdynTee({ baseUrl: `${BASE}/`, fetch }).getWallet()).toBe('0x70997970c51812dc3a010c7d01b50e0d17dc79c8')
    expect(calls).toEqual([{ url: `${BASE}/v1/eth/address`, method: 'GET', contentType: null, body: undefined, signal: expect.any(AbortSignal) }])
  })

  test.each([
    ['1b', '00'],
    ['1C', '01'],
    ['00', '00'],
    ['01', '01'],
  ])('behavior: an Odyn signature with v %s reaches the wire with v %s (RUNTIME.md §1: 27/28 is rejected)', async (odynV, wireV) => {
    const rs = `${'Ab'.repeat(32)}${'cD'.repeat(32)}`
    const { fetch } = recordingFetch((path) =>
      path === '/v1/eth/sign' ? Response.json({ signature: `0x${rs}${odynV}`, address: '0x00', attestation: null }) : ANSWERS[path]!(),
    )
    expect(await createOdynTee({ baseUrl: BASE, fetch }).signMessage('m')).toBe(`0x${rs.toLowerCase()}${wireV}`)
  })

  test('behavior: POST /v1/eth/sign sends the raw message; v 0/1 passes through, lowercased', async () => {
    const { fetch, calls } = recordingFetch()
    expect(await createOdynTee({ baseUrl: BASE, fetch }).signMessage('NovaKMS:Response:x:y')).toBe(SIGNATURE_V0.toLowerCase())
    expect(calls[0]).toMatchObject({
      url: `${BASE}/v1/eth/sign`,
      method: 'POST',
      contentType: 'application/json',
      body: { message: 'NovaKMS:Response:x:y', include_attestation: false },
    })
  })

  test('behavior: POST /v1/eth/sign-tx sends a structured payload of 0x-hex quantities', async () => {
    const { fetch, calls } = recordingFetch()
    const raw = await createOdynTee({ baseUrl: BASE, fetch }).signTransaction({
      chainId: 31337,
      nonce: 12,
      maxPriorityFeePerGas: 1_500_000_000n,
      maxFeePerGas: 3_000_000_000n,
      gas: 0x493e0n,
      to: '0x6a28d24c9aecdcec9b021ee6960fdde592796af7',
      value: 0n,
      data: '0x4df7e390',
    })
    expect(raw).toBe('0x02f86c')
    expect(calls[0]!.body).toEqual({
      payload: {
        kind: 'structured',
        chain_id: '0x7a69',
        nonce: '0xc',
        max_priority_fee_per_gas: '0x59682f00',
        max_fee_per_gas: '0xb2d05e00',
        gas_limit: '0x493e0',
        to: '0x6a28d24c9aecdcec9b021ee6960fdde592796af7',
        value: '0x0',
        data: '0x4df7e390',
      },
      include_attestation: false,
    })
  })

  test('behavior: GET /v1/random and /v1/encryption/public_key decode 0x-hex', async () => {
    const { fetch } = recordingFetch()
    const tee = createOdynTee({ baseUrl: BASE, fetch })
    expect(await tee.randomBytes()).toEqual(new Uint8Array(32).fill(0x5a))
    expect(await tee.getEncryptionPublicKey()).toEqual(keyA.publicKey.der)
  })

  test('behavior: POST /v1/encryption/encrypt sends the receiver DER (normalised from SEC1) as 0x-hex', async () => {
    const { fetch, calls } = recordingFetch()
    const sealed = await createOdynTee({ baseUrl: BASE, fetch }).encrypt('{"a":1}', keyB.publicKey.sec1)
    expect(calls[0]!.body).toEqual({ plaintext: '{"a":1}', client_public_key: `0x${DER_B}` })
    expect(sealed).toEqual({
      encryptedData: new Uint8Array(20).fill(0xc0),
      senderPublicKeyDer: keyA.publicKey.der,
      nonce: new Uint8Array(12).fill(0x0c),
    })
  })

  test('behavior: POST /v1/encryption/decrypt sends each field as 0x-hex', async () => {
    const { fetch, calls } = recordingFetch()
    const plaintext = await createOdynTee({ baseUrl: BASE, fetch }).decrypt({
      nonce: new Uint8Array(12).fill(1),
      senderPublicKeyDer: keyB.publicKey.der,
      encryptedData: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
    })
    expect(plaintext).toBe('{"ok":true}')
    expect(calls[0]!.body).toEqual({ nonce: `0x${'01'.repeat(12)}`, client_public_key: `0x${DER_B}`, encrypted_data: '0xdeadbeef' })
  })

  test('behavior: POST /v1/attestation sends padded standard base64, PEM and user_data; returns the raw CBOR', async () => {
    const { fetch, calls } = recordingFetch()
    const nonce = Uint8Array.of(0xfb, 0xff, 0xbf, ...new Uint8Array(13))
    const document = await createOdynTee({ baseUrl: BASE, fetch }).getAttestation({
      nonce,
      publicKeyDer: keyA.publicKey.der,
      userData: { eth_addr: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8' },
    })
    expect(document).toEqual(DOCUMENT)
    const body = calls[0]!.body as { nonce: string; public_key: string; user_data: unknown }
    expect(body.nonce).toBe('+/+/AAAAAAAAAAAAAAAAAA==')
    expect(body.user_data).toEqual({ eth_addr: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8' })
    expect(body.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END PUBLIC KEY-----\n$/)
    expect(body.public_key.split('\n')[1]).toHaveLength(64)
  })

  test('behavior: POST /v1/attestation omits public_key and user_data when absent', async () => {
    const { fetch, calls } = recordingFetch()
    await createOdynTee({ baseUrl: BASE, fetch }).getAttestation({ nonce: new Uint8Array(16) })
    expect(calls[0]!.body).toEqual({ nonce: 'AAAAAAAAAAAAAAAAAAAAAA==' })
  })
})

describe('Odyn client: error mapping', () => {
  test.each(CALLS.flatMap((call) => [404, 500, 503].map((status) => ({ ...call, status }))))(
    'error: $name answered $status is service_unavailable',
    async ({ run, status }) => {
      const { fetch } = recordingFetch(() => new Response('boom', { status }))
      expect(await rejectionBody(run(createOdynTee({ baseUrl: BASE, fetch })))).toEqual(UNAVAILABLE)
    },
  )

  test.each(CALLS.filter((call) => call.name !== 'decrypt'))('error: $name answered 400 is service_unavailable', async ({ run }) => {
    const { fetch } = recordingFetch(() => new Response('bad request', { status: 400 }))
    expect(await rejectionBody(run(createOdynTee({ baseUrl: BASE, fetch })))).toEqual(UNAVAILABLE)
  })

  test('error: decrypt answered 400 is decryption_failed', async () => {
    const { fetch } = recordingFetch(() => new Response('nonce reuse', { status: 400 }))
    const decrypt = CALLS.find((call) => call.name === 'decrypt')!
    expect(await rejectionBody(decrypt.run(createOdynTee({ baseUrl: BASE, fetch })))).toMatchInlineSnapshot(`
      {
        "code": "decryption_failed",
        "message": "Decryption failed",
      }
    `)
  })

  test('error: a fetch that never resolves times out as service_unavailable', async () => {
    const never: FetchFunction = () => new Promise<Response>(() => undefined)
    const tee = createOdynTee({ baseUrl: BASE, fetch: never, timeoutMs: 25 })
    const started = performance.now()
    for (const { run } of CALLS) expect(await rejectionBody(run(tee))).toEqual(UNAVAILABLE)
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  test('error: a body that never ends times out as service_unavailable', async () => {
    const stalled: FetchFunction = async () =>
      new Response(new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode('{"ran')) }))
    const tee = createOdynTee({ baseUrl: BASE, fetch: stalled, timeoutMs: 25 })
    expect(await rejectionBody(tee.randomBytes())).toEqual(UNAVAILABLE)
    expect(await rejectionBody(tee.getAttestation({ nonce: new Uint8Array(16) }))).toEqual(UNAVAILABLE)
  })

  test('error: the timeout aborts the signal given to fetch', async () => {
    let seen: AbortSignal | null | undefined
    const never: FetchFunction = (_url, init) => {
      seen = init.signal
      return new Promise<Response>(() => undefined)
    }
    await rejectionBody(createOdynTee({ baseUrl: BASE, fetch: never, timeoutMs: 10 }).randomBytes())
    expect(seen?.aborted).toBe(true)
  })

  test('error: an unreachable helper is service_unavailable, with the cause kept for logs', async () => {
    const refused: FetchFunction = async () => {
      throw new TypeError('fetch failed')
    }
    const error = await createOdynTee({ baseUrl: BASE, fetch: refused })
      .randomBytes()
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsError)
    expect((error as KmsError).toBody()).toEqual(UNAVAILABLE)
    expect((error as KmsError).details).toMatchInlineSnapshot(`"GET /v1/random: request failed"`)
    expect((error as KmsError).cause).toBeInstanceOf(TypeError)
  })

  test.each([
    ['malformed JSON', '/v1/random', () => new Response('{"random_bytes":')],
    ['a JSON array', '/v1/random', () => Response.json([])],
    ['JSON null', '/v1/eth/address', () => Response.json(null)],
    ['a missing field', '/v1/random', () => Response.json({})],
    ['a non-string field', '/v1/random', () => Response.json({ random_bytes: 7 })],
    ['31 random bytes', '/v1/random', () => Response.json({ random_bytes: `0x${'00'.repeat(31)}` })],
    ['non-hex random bytes', '/v1/random', () => Response.json({ random_bytes: `0x${'zz'.repeat(32)}` })],
    ['an address that is not a wallet', '/v1/eth/address', () => Response.json({ address: '0x1234' })],
    ['a 64-byte signature', '/v1/eth/sign', () => Response.json({ signature: `0x${'ab'.repeat(64)}` })],
    ['a signature with v = 29', '/v1/eth/sign', () => Response.json({ signature: `0x${'ab'.repeat(64)}1d` })],
    ['a signature with v = 2', '/v1/eth/sign', () => Response.json({ signature: `0x${'ab'.repeat(64)}02` })],
    ['a raw transaction that is not hex', '/v1/eth/sign-tx', () => Response.json({ raw_transaction: '02f8' })],
    ['a teePubkey that is not P-384', '/v1/encryption/public_key', () => Response.json({ public_key_der: `0x${'00'.repeat(120)}` })],
    ['an 11-byte encrypt nonce', '/v1/encryption/encrypt', () => Response.json({ encrypted_data: 'c0'.repeat(20), enclave_public_key: DER_A, nonce: '0c'.repeat(11) })],
    ['an encrypt answer shorter than a tag', '/v1/encryption/encrypt', () => Response.json({ encrypted_data: 'c0'.repeat(15), enclave_public_key: DER_A, nonce: '0c'.repeat(12) })],
    ['a decrypt answer without plaintext', '/v1/encryption/decrypt', () => Response.json({ plain: '' })],
    ['an empty attestation document', '/v1/attestation', () => new Response(new Uint8Array(0))],
  ])('error: %s is service_unavailable', async (_name, path, answer) => {
    const { fetch } = recordingFetch((requested) => (requested === path ? answer() : ANSWERS[requested]!()))
    const call = CALLS.find((entry) => entry.path === path)!
    expect(await rejectionBody(call.run(createOdynTee({ baseUrl: BASE, fetch })))).toEqual(UNAVAILABLE)
  })

  test('error: decrypt refuses a sender key or nonce locally, without calling Odyn', async () => {
    const { fetch, calls } = recordingFetch()
    const tee = createOdynTee({ baseUrl: BASE, fetch })
    const good = { nonce: new Uint8Array(12), senderPublicKeyDer: keyB.publicKey.der, encryptedData: new Uint8Array(16) }
    for (const attempt of [{ ...good, senderPublicKeyDer: new Uint8Array(120) }, { ...good, nonce: new Uint8Array(32) }]) {
      expect((await rejectionBody(tee.decrypt(attempt))).code).toBe('decryption_failed')
    }
    expect(calls).toHaveLength(0)
  })

  test('error: a bad timeout or base URL is a caller bug', () => {
    const { fetch } = recordingFetch()
    expect(() => createOdynTee({ baseUrl: BASE, fetch, timeoutMs: 0 })).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: timeoutMs: expected a positive integer]`,
    )
  })
})
