/**
 * The NovaAppRegistry views that a node reads (PROTOCOL §9.2). Tuple field positions are
 * normative; `test/chain/abi.test.ts` checks every item against the forge artifact.
 */
export const novaAppRegistryAbi = [
  {
    type: 'function',
    name: 'getApp',
    stateMutability: 'view',
    inputs: [{ name: 'appId', type: 'uint256' }],
    outputs: [
      {
        name: '',
        type: 'tuple',
        components: [
          { name: 'appId', type: 'uint256' },
          { name: 'owner', type: 'address' },
          { name: 'teeArch', type: 'bytes32' },
          { name: 'dappContract', type: 'address' },
          { name: 'metadataUri', type: 'string' },
          { name: 'latestVersionId', type: 'uint256' },
          { name: 'createdAt', type: 'uint256' },
          { name: 'status', type: 'uint8' },
          { name: 'appWallet', type: 'address' },
        ],
      },
    ],
  },
  {
    type: 'function',
    name: 'getVersion',
    stateMutability: 'view',
    inputs: [
      { name: 'appId', type: 'uint256' },
      { name: 'versionId', type: 'uint256' },
    ],
    outputs: [
      {
        name: '',
        type: 'tuple',
        components: [
          { name: 'versionId', type: 'uint256' },
          { name: 'versionName', type: 'string' },
          { name: 'codeMeasurement', type: 'bytes32' },
          { name: 'imageUri', type: 'string' },
          { name: 'auditUrl', type: 'string' },
          { name: 'auditHash', type: 'string' },
          { name: 'githubRunId', type: 'string' },
          { name: 'status', type: 'uint8' },
          { name: 'enrolledAt', type: 'uint256' },
          { name: 'enrolledBy', type: 'address' },
        ],
      },
    ],
  },
  {
    type: 'function',
    name: 'getInstanceByWallet',
    stateMutability: 'view',
    inputs: [{ name: 'wallet', type: 'address' }],
    outputs: [
      {
        name: '',
        type: 'tuple',
        components: [
          { name: 'instanceId', type: 'uint256' },
          { name: 'appId', type: 'uint256' },
          { name: 'versionId', type: 'uint256' },
          { name: 'operator', type: 'address' },
          { name: 'instanceUrl', type: 'string' },
          { name: 'teePubkey', type: 'bytes' },
          { name: 'teeWalletAddress', type: 'address' },
          { name: 'zkVerified', type: 'bool' },
          { name: 'status', type: 'uint8' },
          { name: 'registeredAt', type: 'uint256' },
        ],
      },
    ],
  },
  {
    type: 'function',
    name: 'getActiveInstances',
    stateMutability: 'view',
    inputs: [{ name: 'appId', type: 'uint256' }],
    outputs: [{ name: 'wallets', type: 'address[]' }],
  },
] as const
