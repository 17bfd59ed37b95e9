/**
 * The KMSRegistry functions and errors a node uses (PROTOCOL §9.1, §9.3). The errors let a
 * failed `setMasterSecretHash`, `publishBackup` or `reportEpochMigrated` be logged by name.
 * `test/chain/abi.test.ts` checks every item against the forge artifact.
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
  // Recovery policy and backup (issue 15, PROTOCOL §9.1).
  {
    type: 'function',
    name: 'recoveryPolicyId',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'getRecoveryPolicy',
    stateMutability: 'view',
    inputs: [{ name: 'policyId', type: 'uint256' }],
    outputs: [
      { name: 'threshold', type: 'uint8' },
      {
        name: 'custodians',
        type: 'tuple[]',
        components: [
          { name: 'sealingKey', type: 'bytes' },
          { name: 'approver', type: 'address' },
        ],
      },
    ],
  },
  {
    type: 'function',
    name: 'publishBackup',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'secretHash', type: 'bytes32' },
      { name: 'sealedShares', type: 'bytes[]' },
      { name: 'shareCommitments', type: 'bytes32[]' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'hasBackup',
    stateMutability: 'view',
    inputs: [
      { name: 'secretHash', type: 'bytes32' },
      { name: 'policyId', type: 'uint256' },
    ],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'getBackup',
    stateMutability: 'view',
    inputs: [
      { name: 'secretHash', type: 'bytes32' },
      { name: 'policyId', type: 'uint256' },
    ],
    outputs: [
      { name: 'publisher', type: 'address' },
      { name: 'publishedAt', type: 'uint64' },
      { name: 'shareCommitments', type: 'bytes32[]' },
    ],
  },
  {
    type: 'function',
    name: 'getSealedShare',
    stateMutability: 'view',
    inputs: [
      { name: 'secretHash', type: 'bytes32' },
      { name: 'policyId', type: 'uint256' },
      { name: 'index', type: 'uint256' },
    ],
    outputs: [
      { name: 'sealedShare', type: 'bytes' },
      { name: 'commitment', type: 'bytes32' },
    ],
  },
  { type: 'error', name: 'NoRecoveryPolicy', inputs: [] },
  { type: 'error', name: 'NoBackup', inputs: [] },
  { type: 'error', name: 'ShareIndexOutOfRange', inputs: [] },
  { type: 'error', name: 'SecretHashMismatch', inputs: [] },
  { type: 'error', name: 'ShareCountMismatch', inputs: [] },
  { type: 'error', name: 'InvalidSealedShare', inputs: [] },
  { type: 'error', name: 'InvalidShareCommitment', inputs: [] },
  { type: 'error', name: 'BackupAlreadyPublished', inputs: [] },
  // Key epochs (issue 16, PROTOCOL §7.7, §9.1 "Key epochs").
  {
    type: 'function',
    name: 'currentEpoch',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'masterSecretHashOf',
    stateMutability: 'view',
    inputs: [{ name: 'epoch', type: 'uint256' }],
    outputs: [{ name: '', type: 'bytes32' }],
  },
  {
    type: 'function',
    name: 'isEpochRetired',
    stateMutability: 'view',
    inputs: [{ name: 'epoch', type: 'uint256' }],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'epochStartedAt',
    stateMutability: 'view',
    inputs: [{ name: 'epoch', type: 'uint256' }],
    outputs: [{ name: '', type: 'uint64' }],
  },
  {
    type: 'function',
    name: 'migratedEpochOf',
    stateMutability: 'view',
    inputs: [{ name: 'operator', type: 'address' }],
    outputs: [
      { name: 'reported', type: 'bool' },
      { name: 'epoch', type: 'uint256' },
    ],
  },
  {
    type: 'function',
    name: 'RETIRE_GRACE_SECONDS',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'appKeyEpoch',
    stateMutability: 'view',
    inputs: [{ name: 'appId', type: 'uint256' }],
    outputs: [{ name: 'epoch', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'recoveryPolicyEpoch',
    stateMutability: 'view',
    inputs: [{ name: 'policyId', type: 'uint256' }],
    outputs: [
      { name: 'bound', type: 'bool' },
      { name: 'epoch', type: 'uint256' },
    ],
  },
  {
    type: 'function',
    name: 'reportEpochMigrated',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'epoch', type: 'uint256' }],
    outputs: [],
  },
  { type: 'error', name: 'HashOfEarlierEpoch', inputs: [] },
  { type: 'error', name: 'EpochNotCommitted', inputs: [] },
  { type: 'error', name: 'NotOperator', inputs: [] },
  { type: 'error', name: 'NotCurrentEpoch', inputs: [] },
  { type: 'error', name: 'PolicyBoundToAnotherEpoch', inputs: [] },
] as const
