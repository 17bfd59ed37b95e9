/**
 * The KMSRegistry functions and errors a node uses (PROTOCOL §9.1, §9.3). The errors let a
 * failed `setMasterSecretHash` be logged by name. `test/chain/abi.test.ts` checks every item
 * against the forge artifact.
 */
export const kmsRegistryAbi = [
  {
    type: 'function',
    name: 'masterSecretHash',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'bytes32' }],
  },
  {
    type: 'function',
    name: 'setMasterSecretHash',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'hash', type: 'bytes32' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'isOperator',
    stateMutability: 'view',
    inputs: [{ name: 'operator', type: 'address' }],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'getOperators',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'address[]' }],
  },
  {
    type: 'function',
    name: 'kmsAppId',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'uint256' }],
  },
  { type: 'error', name: 'MasterSecretHashAlreadySet', inputs: [] },
  { type: 'error', name: 'NotAuthorizedToSetHash', inputs: [] },
] as const
