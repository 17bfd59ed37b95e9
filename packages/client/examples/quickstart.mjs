// Quickstart: find the KMS nodes in NovaAppRegistry, derive a key, put and get a value.
// Runs as is under Node 20+ (`node quickstart.mjs`); in workerd or a browser, take the
// same values from your bindings or configuration instead of process.env.
import {
  bytesToHex,
  createChainReaders,
  createNovaKmsClient,
  cryptoRandom,
  discoverKmsNodes,
  importP384PrivateKey,
  loadTrustedRoot,
  parseHex,
  parseWallet,
  systemClock,
  timerSleep,
  utf8ToBytes,
} from '@nova-kms/client'

const env = process.env
const required = (name) => {
  const value = env[name]
  if (value === undefined || value === '') throw new Error(`set ${name}`)
  return value
}

// The registries: NovaAppRegistry lists the KMS nodes, KMSRegistry names the KMS app.
const { novaAppRegistry, kmsRegistry } = createChainReaders({
  rpcUrl: required('NOVA_RPC_URL'),
  novaAppRegistry: parseWallet(required('NOVA_APP_REGISTRY_ADDRESS')),
  kmsRegistry: parseWallet(required('KMS_REGISTRY_ADDRESS')),
})
const kmsAppId = await kmsRegistry.kmsAppId()
const nodes = await discoverKmsNodes({ registry: novaAppRegistry, kmsAppId })

// Every node must prove itself by its Nitro attestation (fresh nonce, registry wallet, key
// and measurement) before any request goes to it: production trusts the pinned AWS root
// only. A local devnet's nodes make dev documents; its dev root is passed explicitly.
const devRoot = env.NOVA_DEV_ROOT_PEM
const attestation = devRoot === undefined ? {} : { trustedRoot: loadTrustedRoot(devRoot), allowDebugMode: true }

// This instance's keys: its secp256k1 TEE wallet and its P-384 teePubkey key, both
// registered for the app in NovaAppRegistry. Request/response binding v2 is the default:
// every answer, errors included, is signed by the node.
const { client } = createNovaKmsClient({
  registry: novaAppRegistry,
  kmsAppId,
  appId: Number(required('APP_ID')),
  walletKey: parseHex(required('APP_WALLET_KEY')),
  teeKey: await importP384PrivateKey(parseHex(required('APP_TEE_KEY'))),
  clock: systemClock,
  random: cryptoRandom,
  sleep: timerSleep,
  attestation,
})

const key = await client.derive({ path: 'quickstart/signing-key', context: 'v1', length: 32 })
await client.kvPut('quickstart/greeting', utf8ToBytes('hello, Nova KMS'))
const read = await client.kvGet('quickstart/greeting')

console.log(
  JSON.stringify({
    kmsAppId,
    nodes: nodes.map((node) => ({ url: node.url, wallet: node.wallet })),
    wallet: client.wallet,
    derivedKey: bytesToHex(key),
    value: read.found ? new TextDecoder().decode(read.value) : null,
  }),
)
