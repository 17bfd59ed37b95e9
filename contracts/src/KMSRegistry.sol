// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAppOperatorCallbacks} from "./interfaces/IAppOperatorCallbacks.sol";
import {
    App,
    INovaAppRegistry,
    Instance,
    InstanceStatus,
    Version,
    VersionStatus
} from "./interfaces/INovaAppRegistry.sol";

// Over 400 lines: one non-upgradeable contract is the whole on-chain anchor (operators, key
// epochs, recovery), since every part reads the others' state and a split would add calls.

/// @title KMSRegistry
/// @notice The Nova KMS cluster's on-chain anchor (PROTOCOL §9.1): the operator set, which
/// NovaAppRegistry maintains through callbacks; the master-secret hash of each key epoch, which
/// the first authorized KMS node commits; rotation and retirement of epochs (§7.7); per-app key
/// epochs; and the recovery policy and backups (§7.6).
/// @dev Non-upgradeable. The upstream nova-kms (c) ABI, errors and events are kept exactly (with
/// `masterSecretHash()` now the current epoch's hash and `OWNER()` a view of the current owner),
/// plus `ZeroAddress()` and two-step ownership (issue 19); every selector and topic is pinned in
/// test/KMSRegistry.t.sol, test/KMSRegistryRecovery.t.sol, test/KMSRegistryEpochs.t.sol and
/// test/KMSRegistryOwnership.t.sol.
contract KMSRegistry is IAppOperatorCallbacks {
    /// @dev The owner is not immutable (issue 19): a lost or exposed owner key, which can
    /// reset the master-secret hash, rotate epochs and govern recovery, must be replaceable.
    /// Two steps (nominate, then accept) so that a mistyped address cannot take it over.
    address private _owner;
    address private _pendingOwner;
    address public novaAppRegistry;
    uint256 public kmsAppId;

    address[] private _operators;
    /// @dev Position in `_operators` plus one; zero means "not an operator".
    mapping(address operator => uint256 positionPlusOne) private _operatorPosition;

    error NotOwner();
    error NotPendingOwner();
    error OnlyNovaAppRegistry();
    error InvalidRegistryAddress();
    error AppIdMismatch();
    error MasterSecretHashAlreadySet();
    error NotAuthorizedToSetHash();
    error AppIdAlreadySet();
    error ZeroAddress();
    // Recovery (issue 15, PROTOCOL §9.1 "Recovery policy and backup").
    error InvalidTimelock();
    error InvalidRecoveryPolicy();
    error InvalidSealingKey();
    error DuplicateCustodian();
    error RecoveryPolicyAlreadySet();
    error NoRecoveryPolicy();
    error ProposalPending();
    error NoSuchProposal();
    error ProposalNotPending();
    error NotCustodian();
    error AlreadyVoted();
    error StaleProposal();
    error TimelockNotExpired();
    error SecretHashMismatch();
    error ShareCountMismatch();
    error InvalidSealedShare();
    error InvalidShareCommitment();
    error BackupAlreadyPublished();
    error NoBackup();
    error ShareIndexOutOfRange();
    // Key epochs (issue 16, PROTOCOL §7.7, §9.1 "Key epochs").
    error InvalidGracePeriod();
    error HashOfEarlierEpoch();
    error EpochNotCommitted();
    error PreviousEpochNotRetired();
    error NotOperator();
    error NotCurrentEpoch();
    error EpochNotRetirable();
    error EpochAlreadyRetired();
    error MigrationIncomplete(address operator);
    error GracePeriodNotOver();
    error NotAppOwner();
    error InvalidAppKeyEpoch();
    error PolicyBoundToAnotherEpoch();

    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event OperatorAdded(address indexed operator, uint256 indexed appId, uint256 versionId, uint256 instanceId);
    event OperatorRemoved(address indexed operator, uint256 indexed appId, uint256 versionId, uint256 instanceId);
    event MasterSecretHashSet(bytes32 indexed hash, address indexed setter);
    event MasterSecretHashReset(address indexed resetter);
    event KmsAppIdSet(uint256 indexed appId);
    event NovaAppRegistrySet(address indexed registry);
    event RecoveryPolicyProposed(uint256 indexed proposalId, uint256 indexed basePolicyId, uint64 executableAt);
    event RecoveryPolicyApproved(uint256 indexed proposalId, address indexed approver, uint256 approvals);
    event RecoveryPolicyVetoed(uint256 indexed proposalId, address indexed approver, uint256 vetoes);
    event RecoveryPolicyProposalRejected(uint256 indexed proposalId);
    event RecoveryPolicyProposalCancelled(uint256 indexed proposalId);
    /// @param how 0 = initial (set by the owner), 1 = approved by a threshold of custodians,
    /// 2 = timelock expired without a threshold of vetoes (`ActivationPath`).
    event RecoveryPolicyActivated(
        uint256 indexed policyId, uint256 indexed proposalId, uint8 threshold, uint256 custodianCount, uint8 how
    );
    event BackupPublished(bytes32 indexed secretHash, uint256 indexed policyId, address indexed publisher);
    event EpochHashCommitted(uint256 indexed epoch, bytes32 indexed hash);
    event RotationStarted(uint256 indexed epoch, address indexed by);
    event EpochMigrationReported(uint256 indexed epoch, address indexed operator);
    event EpochRetired(uint256 indexed epoch, bool forced);
    event AppKeyEpochSet(uint256 indexed appId, uint256 epoch, address indexed owner);

    struct RecoveryCustodian {
        /// P-384 SubjectPublicKeyInfo DER, uncompressed point: exactly 120 bytes.
        bytes sealingKey;
        address approver;
    }

    enum ProposalState {
        None,
        Pending,
        Activated,
        Vetoed,
        Cancelled
    }

    enum ActivationPath {
        Initial,
        Approved,
        Timelock
    }

    struct Policy {
        uint8 threshold;
        RecoveryCustodian[] custodians;
    }

    struct Proposal {
        uint256 basePolicyId;
        uint8 threshold;
        uint64 executableAt;
        uint16 approvals;
        uint16 vetoes;
        ProposalState state;
        RecoveryCustodian[] custodians;
    }

    struct Backup {
        address publisher;
        uint64 publishedAt;
        bytes[] sealedShares;
        bytes32[] shareCommitments;
    }

    uint256 public constant MAX_CUSTODIANS = 16;
    uint256 public constant MAX_SEALED_SHARE_BYTES = 1024;
    uint256 public constant SEALING_KEY_BYTES = 120;
    /// @dev The DER prefix of a P-384 SubjectPublicKeyInfo with an uncompressed point
    /// (RFC 5480 §2, SEC 1 §2.3.3): SEQUENCE(118) { SEQUENCE(16) { id-ecPublicKey, secp384r1 },
    /// BIT STRING(98) 00 04 }. The remaining 96 bytes are X ‖ Y; whether they are on the curve
    /// is for the off-chain side to check (a point check costs far more gas than it saves).
    bytes24 private constant P384_SPKI_PREFIX = 0x3076301006072a8648ce3d020106052b8104002203620004;

    /// @notice How long a proposed policy waits before anyone may activate it (no threshold of
    /// vetoes). Fixed at deployment: the owner cannot shorten it.
    uint256 public immutable POLICY_TIMELOCK_SECONDS;

    /// @notice The active policy's id; 0 until the owner sets the first one.
    uint256 public recoveryPolicyId;
    uint256 public proposalCount;
    /// @notice The one proposal that is Pending, or 0.
    uint256 public pendingProposalId;

    mapping(uint256 policyId => Policy) private _policies;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => mapping(address approver => bool)) private _voted;
    mapping(bytes32 secretHash => mapping(uint256 policyId => Backup)) private _backups;
    /// @dev The epoch a policy's custodian keys serve, plus one; zero while it has no backup.
    mapping(uint256 policyId => uint256 epochPlusOne) private _policyEpoch;

    /// @notice How long after `startRotation` opened the current epoch the owner must wait
    /// before `forceRetireEpoch` may retire the previous one without every operator's report.
    /// Fixed at deployment.
    uint256 public immutable RETIRE_GRACE_SECONDS;

    /// @notice The cluster epoch new secrets are committed for; 0 until the first rotation.
    uint256 public currentEpoch;

    mapping(uint256 epoch => bytes32 hash) private _epochHash;
    /// @dev The epoch a non-zero hash was committed for, plus one. Never cleared (a reset keeps
    /// it), so a secret of one epoch can never be committed for another.
    mapping(bytes32 hash => uint256 epochPlusOne) private _hashEpoch;
    mapping(uint256 epoch => uint64 startedAt) private _epochStartedAt;
    mapping(uint256 epoch => bool) private _epochRetired;
    /// @dev The newest epoch an operator reported as migrated to, plus one; zero: no report.
    mapping(address operator => uint256 epochPlusOne) private _migratedEpoch;
    /// @dev The epoch's hash when the operator reported: after an owner reset and another
    /// commit in the same epoch, a report made against the old hash no longer counts.
    mapping(address operator => bytes32 hash) private _migratedHash;

    /// @notice An app's key epoch (PROTOCOL §5.2 v2); 0 until its owner sets one.
    mapping(uint256 appId => uint256 epoch) public appKeyEpoch;

    modifier onlyOwner() {
        if (msg.sender != _owner) revert NotOwner();
        _;
    }

    modifier onlyNovaAppRegistry() {
        if (msg.sender != novaAppRegistry) revert OnlyNovaAppRegistry();
        _;
    }

    /// @param policyTimelockSeconds Zero is refused (`InvalidTimelock`): with no delay the
    /// owner alone could propose and activate a policy in the same block, before any custodian
    /// could veto, which is exactly what the recovery design forbids. Above 2^32 − 1 seconds
    /// (136 years) is refused too, so that `block.timestamp + timelock` always fits a uint64.
    /// @param retireGraceSeconds Zero is refused (`InvalidGracePeriod`): the owner could then
    /// force-retire an epoch in the block that opened the next one, before any node had
    /// re-encrypted a record. The same 2^32 − 1 bound as the timelock applies.
    constructor(address initialOwner, address appRegistry_, uint256 policyTimelockSeconds, uint256 retireGraceSeconds) {
        if (appRegistry_ == address(0)) revert InvalidRegistryAddress();
        if (policyTimelockSeconds == 0 || policyTimelockSeconds > type(uint32).max) revert InvalidTimelock();
        if (retireGraceSeconds == 0 || retireGraceSeconds > type(uint32).max) revert InvalidGracePeriod();
        if (initialOwner == address(0)) revert ZeroAddress();
        _owner = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
        novaAppRegistry = appRegistry_;
        POLICY_TIMELOCK_SECONDS = policyTimelockSeconds;
        RETIRE_GRACE_SECONDS = retireGraceSeconds;
        // Epoch 0 is live from deployment (it has no startRotation).
        _epochStartedAt[0] = uint64(block.timestamp);
    }

    // ------------------------------------------------------------------ ownership (§9.1)

    /// @notice The current owner: every owner-only function follows it.
    function owner() public view returns (address) {
        return _owner;
    }

    /// @notice The upstream name of `owner()`, kept for ABI compatibility (selector 0x117803e3).
    function OWNER() external view returns (address) {
        return _owner;
    }

    /// @notice The nominated owner, or zero when no transfer is pending.
    function pendingOwner() external view returns (address) {
        return _pendingOwner;
    }

    /// @notice Step 1: the owner nominates `newOwner`, replacing any earlier nomination.
    /// Zero cancels a pending nomination. The owner keeps every right until the nominee
    /// accepts. There is no renounce: an ownerless registry could never reset a wrong hash.
    function transferOwnership(address newOwner) external onlyOwner {
        _pendingOwner = newOwner;
        emit OwnershipTransferStarted(_owner, newOwner);
    }

    /// @notice Step 2: the nominee takes ownership, which proves it holds the key.
    function acceptOwnership() external {
        if (msg.sender != _pendingOwner || msg.sender == address(0)) revert NotPendingOwner();
        address previousOwner = _owner;
        _owner = msg.sender;
        delete _pendingOwner;
        emit OwnershipTransferred(previousOwner, msg.sender);
    }

    function setNovaAppRegistry(address registry) external onlyOwner {
        if (registry == address(0)) revert InvalidRegistryAddress();
        novaAppRegistry = registry;
        emit NovaAppRegistrySet(registry);
    }

    /// @notice Fixes the KMS app id, once: the operator set and the hash writer are tied to it.
    function setKmsAppId(uint256 appId) external onlyOwner {
        if (kmsAppId != 0) revert AppIdAlreadySet();
        kmsAppId = appId;
        emit KmsAppIdSet(appId);
    }

    /// @notice The current epoch's master-secret hash; zero while none is committed. Upstream's
    /// selector (it was a public variable before epochs).
    function masterSecretHash() external view returns (bytes32) {
        return _epochHash[currentEpoch];
    }

    /// @notice Commits the current epoch's master-secret hash. Only the first writer wins
    /// (PROTOCOL §7.5 rule 3): every other node converges by syncing the secret.
    /// @dev The sender must be an ACTIVE KMS instance whose version is ENROLLED. zkVerified is
    /// not checked and DEPRECATED does not qualify (PROTOCOL §9.1). Registry reads run under
    /// try/catch so that a registry revert reads as "not authorized". A hash once committed for
    /// one epoch is refused for any other (`HashOfEarlierEpoch`, §7.7): a rotation must bring a
    /// fresh secret. The same hash again in the same epoch (after an owner reset) is allowed.
    function setMasterSecretHash(bytes32 hash) external {
        uint256 epoch = currentEpoch;
        if (_epochHash[epoch] != bytes32(0)) revert MasterSecretHashAlreadySet();
        if (!_isAuthorizedHashSetter(msg.sender)) revert NotAuthorizedToSetHash();
        uint256 committedFor = _hashEpoch[hash];
        if (committedFor != 0 && committedFor != epoch + 1) revert HashOfEarlierEpoch();
        _epochHash[epoch] = hash;
        // The zero hash means "not committed"; it is never bound to an epoch.
        if (hash != bytes32(0)) _hashEpoch[hash] = epoch + 1;
        emit MasterSecretHashSet(hash, msg.sender);
        emit EpochHashCommitted(epoch, hash);
    }

    /// @notice Brings the current epoch back to the zero state; the nodes then re-commit the
    /// secret they hold (PROTOCOL §7.5).
    function resetMasterSecretHash() external onlyOwner {
        _epochHash[currentEpoch] = bytes32(0);
        emit MasterSecretHashReset(msg.sender);
    }

    /// @dev Idempotent, and emits even when nothing changes, as upstream (c) does.
    function addOperator(address operator, uint256 appId, uint256 versionId, uint256 instanceId)
        external
        onlyNovaAppRegistry
    {
        if (appId != kmsAppId) revert AppIdMismatch();
        if (operator == address(0)) revert ZeroAddress();
        if (_operatorPosition[operator] == 0) {
            _operators.push(operator);
            _operatorPosition[operator] = _operators.length;
        }
        emit OperatorAdded(operator, appId, versionId, instanceId);
    }

    /// @dev Idempotent swap-and-pop, so `getOperators()` order can change. Removing an absent
    /// wallet (zero included) changes nothing but still emits, as upstream (c) does.
    function removeOperator(address operator, uint256 appId, uint256 versionId, uint256 instanceId)
        external
        onlyNovaAppRegistry
    {
        if (appId != kmsAppId) revert AppIdMismatch();
        uint256 positionPlusOne = _operatorPosition[operator];
        if (positionPlusOne != 0) {
            address last = _operators[_operators.length - 1];
            _operators[positionPlusOne - 1] = last;
            _operatorPosition[last] = positionPlusOne;
            _operators.pop();
            delete _operatorPosition[operator];
        }
        emit OperatorRemoved(operator, appId, versionId, instanceId);
    }

    function isOperator(address operator) external view returns (bool) {
        return _operatorPosition[operator] != 0;
    }

    function operatorCount() external view returns (uint256) {
        return _operators.length;
    }

    function operatorAt(uint256 index) external view returns (address) {
        require(index < _operators.length, "Index out of bounds");
        return _operators[index];
    }

    function getOperators() external view returns (address[] memory) {
        return _operators;
    }

    // ---------------------------------------------------------------- key epochs (§7.7)

    /// @notice An epoch's committed hash: zero for an epoch never committed, reset, or newer
    /// than `currentEpoch`. A retired epoch keeps its hash (check `isEpochRetired`).
    function masterSecretHashOf(uint256 epoch) external view returns (bytes32) {
        return _epochHash[epoch];
    }

    /// @notice The block timestamp at which `startRotation` opened `epoch` (epoch 0: the
    /// deployment); zero for an epoch not opened yet.
    function epochStartedAt(uint256 epoch) external view returns (uint64) {
        return _epochStartedAt[epoch];
    }

    function isEpochRetired(uint256 epoch) external view returns (bool) {
        return _epochRetired[epoch];
    }

    /// @return reported whether `operator` ever reported; epoch the newest epoch it reported.
    function migratedEpochOf(address operator) external view returns (bool reported, uint256 epoch) {
        uint256 plusOne = _migratedEpoch[operator];
        return (plusOne != 0, plusOne == 0 ? 0 : plusOne - 1);
    }

    /// @notice Opens epoch currentEpoch + 1 with a zero hash; the nodes commit a fresh secret for
    /// it. At most two epochs are live: the one before the current must be retired first.
    function startRotation() external onlyOwner {
        uint256 epoch = currentEpoch;
        if (_epochHash[epoch] == bytes32(0)) revert EpochNotCommitted();
        if (epoch >= 1 && !_epochRetired[epoch - 1]) revert PreviousEpochNotRetired();
        uint256 next = epoch + 1;
        currentEpoch = next;
        _epochStartedAt[next] = uint64(block.timestamp);
        emit RotationStarted(next, msg.sender);
    }

    /// @notice A node says it holds the current epoch's secret and has no record under an older
    /// one (PROTOCOL §7.7 re-encryption, §9.3). It is a transaction from the node's TEE wallet,
    /// which the host cannot forge. Idempotent; emits each time.
    function reportEpochMigrated(uint256 epoch) external {
        if (_operatorPosition[msg.sender] == 0) revert NotOperator();
        if (epoch != currentEpoch) revert NotCurrentEpoch();
        if (_epochHash[epoch] == bytes32(0)) revert EpochNotCommitted();
        _migratedEpoch[msg.sender] = epoch + 1;
        _migratedHash[msg.sender] = _epochHash[epoch];
        emit EpochMigrationReported(epoch, msg.sender);
    }

    /// @notice Retires the previous epoch once every current operator has reported the current
    /// one, under its current hash: the nodes then wipe its secret. An operator removed before
    /// reporting no longer counts. The loop is over the operator set, which the registry keeps
    /// small.
    function retireEpoch(uint256 epoch) external onlyOwner {
        _requireRetirable(epoch);
        uint256 required = currentEpoch + 1;
        bytes32 currentHash = _epochHash[currentEpoch];
        uint256 count = _operators.length;
        for (uint256 i = 0; i < count; ++i) {
            address operator = _operators[i];
            if (_migratedEpoch[operator] < required || _migratedHash[operator] != currentHash) revert MigrationIncomplete(operator);
        }
        _epochRetired[epoch] = true;
        emit EpochRetired(epoch, false);
    }

    /// @notice Retires the previous epoch without the reports, once RETIRE_GRACE_SECONDS have
    /// passed since the current epoch started (a dead node can never report). Records that a
    /// node had not re-encrypted are lost from that node.
    function forceRetireEpoch(uint256 epoch) external onlyOwner {
        _requireRetirable(epoch);
        if (block.timestamp < uint256(_epochStartedAt[currentEpoch]) + RETIRE_GRACE_SECONDS) {
            revert GracePeriodNotOver();
        }
        _epochRetired[epoch] = true;
        emit EpochRetired(epoch, true);
    }

    /// @notice The app's owner in NovaAppRegistry moves the app to a new key epoch, which
    /// changes its derived keys (PROTOCOL §5.2 v2) and nothing else. Epochs only grow, and stay
    /// below 2^32 (the derivation encodes them in four bytes).
    /// @dev `getApp` runs under try/catch: a revert (unknown app) reads as "not the owner".
    function setAppKeyEpoch(uint256 appId, uint256 epoch) external {
        address appOwner;
        try INovaAppRegistry(novaAppRegistry).getApp(appId) returns (App memory app) {
            appOwner = app.owner;
        } catch {
            revert NotAppOwner();
        }
        if (appOwner == address(0) || appOwner != msg.sender) revert NotAppOwner();
        if (epoch <= appKeyEpoch[appId] || epoch > type(uint32).max) revert InvalidAppKeyEpoch();
        appKeyEpoch[appId] = epoch;
        emit AppKeyEpochSet(appId, epoch, msg.sender);
    }

    // ---------------------------------------------------------------- recovery policy

    /// @notice The first policy, set by the owner alone, once. It is public before any backup
    /// exists, so apps can check it (PROTOCOL §9.1).
    function setInitialRecoveryPolicy(RecoveryCustodian[] calldata custodians, uint8 threshold) external onlyOwner {
        if (recoveryPolicyId != 0) revert RecoveryPolicyAlreadySet();
        _validatePolicy(custodians, threshold);
        Policy storage policy = _policies[1];
        policy.threshold = threshold;
        for (uint256 i = 0; i < custodians.length; ++i) {
            policy.custodians.push(custodians[i]);
        }
        recoveryPolicyId = 1;
        emit RecoveryPolicyActivated(1, 0, threshold, custodians.length, uint8(ActivationPath.Initial));
    }

    /// @notice Proposes the next policy. It takes effect only with a threshold of the current
    /// custodians' approvals, or when the timelock expires without a threshold of vetoes.
    function proposeRecoveryPolicy(RecoveryCustodian[] calldata custodians, uint8 threshold)
        external
        onlyOwner
        returns (uint256 proposalId)
    {
        if (recoveryPolicyId == 0) revert NoRecoveryPolicy();
        if (pendingProposalId != 0) revert ProposalPending();
        _validatePolicy(custodians, threshold);
        proposalId = ++proposalCount;
        Proposal storage proposal = _proposals[proposalId];
        proposal.basePolicyId = recoveryPolicyId;
        proposal.threshold = threshold;
        // Safe: the timelock is below 2^32 (constructor) and block.timestamp far below 2^63.
        // forge-lint: disable-next-line(unsafe-typecast)
        proposal.executableAt = uint64(block.timestamp + POLICY_TIMELOCK_SECONDS);
        proposal.state = ProposalState.Pending;
        for (uint256 i = 0; i < custodians.length; ++i) {
            proposal.custodians.push(custodians[i]);
        }
        pendingProposalId = proposalId;
        emit RecoveryPolicyProposed(proposalId, proposal.basePolicyId, proposal.executableAt);
    }

    /// @notice A current custodian approves; at the base policy's threshold it activates at once.
    function approveRecoveryPolicy(uint256 proposalId) external {
        Proposal storage proposal = _votableProposal(proposalId);
        uint16 approvals = ++proposal.approvals;
        emit RecoveryPolicyApproved(proposalId, msg.sender, approvals);
        if (approvals >= _policies[proposal.basePolicyId].threshold) {
            _activate(proposalId, proposal, ActivationPath.Approved);
        }
    }

    /// @notice A current custodian vetoes; at the base policy's threshold the proposal is dead.
    function vetoRecoveryPolicy(uint256 proposalId) external {
        Proposal storage proposal = _votableProposal(proposalId);
        uint16 vetoes = ++proposal.vetoes;
        emit RecoveryPolicyVetoed(proposalId, msg.sender, vetoes);
        if (vetoes >= _policies[proposal.basePolicyId].threshold) {
            proposal.state = ProposalState.Vetoed;
            pendingProposalId = 0;
            emit RecoveryPolicyProposalRejected(proposalId);
        }
    }

    /// @notice Anyone may activate a pending proposal once its timelock has expired.
    function activateRecoveryPolicy(uint256 proposalId) external {
        Proposal storage proposal = _pendingProposal(proposalId);
        if (proposal.basePolicyId != recoveryPolicyId) revert StaleProposal();
        if (block.timestamp < proposal.executableAt) revert TimelockNotExpired();
        _activate(proposalId, proposal, ActivationPath.Timelock);
    }

    function cancelRecoveryPolicyProposal(uint256 proposalId) external onlyOwner {
        _pendingProposal(proposalId).state = ProposalState.Cancelled;
        if (pendingProposalId == proposalId) pendingProposalId = 0;
        emit RecoveryPolicyProposalCancelled(proposalId);
    }

    function getRecoveryPolicy(uint256 policyId)
        external
        view
        returns (uint8 threshold, RecoveryCustodian[] memory custodians)
    {
        if (policyId == 0 || policyId > recoveryPolicyId) revert NoRecoveryPolicy();
        Policy storage policy = _policies[policyId];
        return (policy.threshold, policy.custodians);
    }

    function getPolicyProposal(uint256 proposalId)
        external
        view
        returns (
            uint256 basePolicyId,
            uint8 threshold,
            RecoveryCustodian[] memory custodians,
            uint64 executableAt,
            uint16 approvals,
            uint16 vetoes,
            ProposalState state
        )
    {
        Proposal storage proposal = _proposals[proposalId];
        if (proposal.state == ProposalState.None) revert NoSuchProposal();
        return (
            proposal.basePolicyId,
            proposal.threshold,
            proposal.custodians,
            proposal.executableAt,
            proposal.approvals,
            proposal.vetoes,
            proposal.state
        );
    }

    function hasVoted(uint256 proposalId, address approver) external view returns (bool) {
        return _voted[proposalId][approver];
    }

    // ---------------------------------------------------------------- backup

    /// @notice Publishes the current epoch's master secret's shares, each sealed to one custodian
    /// of the active policy, with keccak256 of each plain share. Once per (hash, policy): the
    /// first node wins. A policy's custodian keys serve one epoch (PROTOCOL §7.7 "Shredding"):
    /// its first backup binds it to the current epoch, and a backup for another epoch is refused.
    function publishBackup(bytes32 secretHash, bytes[] calldata sealedShares, bytes32[] calldata shareCommitments)
        external
    {
        if (!_isAuthorizedHashSetter(msg.sender)) revert NotAuthorizedToSetHash();
        uint256 epoch = currentEpoch;
        if (secretHash == bytes32(0) || secretHash != _epochHash[epoch]) revert SecretHashMismatch();
        uint256 policyId = recoveryPolicyId;
        if (policyId == 0) revert NoRecoveryPolicy();
        uint256 boundTo = _policyEpoch[policyId];
        if (boundTo != 0 && boundTo != epoch + 1) revert PolicyBoundToAnotherEpoch();
        uint256 count = _policies[policyId].custodians.length;
        if (sealedShares.length != count || shareCommitments.length != count) revert ShareCountMismatch();
        Backup storage backup = _backups[secretHash][policyId];
        if (backup.publisher != address(0)) revert BackupAlreadyPublished();
        for (uint256 i = 0; i < count; ++i) {
            uint256 length = sealedShares[i].length;
            if (length == 0 || length > MAX_SEALED_SHARE_BYTES) revert InvalidSealedShare();
            if (shareCommitments[i] == bytes32(0)) revert InvalidShareCommitment();
            backup.sealedShares.push(sealedShares[i]);
            backup.shareCommitments.push(shareCommitments[i]);
        }
        backup.publisher = msg.sender;
        backup.publishedAt = uint64(block.timestamp);
        if (boundTo == 0) _policyEpoch[policyId] = epoch + 1;
        emit BackupPublished(secretHash, policyId, msg.sender);
    }

    /// @return bound whether a backup was published under the policy; epoch the one it serves.
    function recoveryPolicyEpoch(uint256 policyId) external view returns (bool bound, uint256 epoch) {
        uint256 plusOne = _policyEpoch[policyId];
        return (plusOne != 0, plusOne == 0 ? 0 : plusOne - 1);
    }

    function hasBackup(bytes32 secretHash, uint256 policyId) external view returns (bool) {
        return _backups[secretHash][policyId].publisher != address(0);
    }

    function getBackup(bytes32 secretHash, uint256 policyId)
        external
        view
        returns (address publisher, uint64 publishedAt, bytes32[] memory shareCommitments)
    {
        Backup storage backup = _backups[secretHash][policyId];
        if (backup.publisher == address(0)) revert NoBackup();
        return (backup.publisher, backup.publishedAt, backup.shareCommitments);
    }

    function getSealedShare(bytes32 secretHash, uint256 policyId, uint256 index)
        external
        view
        returns (bytes memory sealedShare, bytes32 commitment)
    {
        Backup storage backup = _backups[secretHash][policyId];
        if (backup.publisher == address(0)) revert NoBackup();
        if (index >= backup.sealedShares.length) revert ShareIndexOutOfRange();
        return (backup.sealedShares[index], backup.shareCommitments[index]);
    }

    // ---------------------------------------------------------------- internals

    /// @dev The checks retireEpoch and forceRetireEpoch share, in this order (PROTOCOL §9.1).
    function _requireRetirable(uint256 epoch) private view {
        uint256 current = currentEpoch;
        if (current == 0 || epoch != current - 1) revert EpochNotRetirable();
        if (_epochRetired[epoch]) revert EpochAlreadyRetired();
        if (_epochHash[current] == bytes32(0)) revert EpochNotCommitted();
    }

    function _validatePolicy(RecoveryCustodian[] calldata custodians, uint8 threshold) private pure {
        uint256 count = custodians.length;
        if (threshold == 0 || threshold > count || count > MAX_CUSTODIANS) revert InvalidRecoveryPolicy();
        for (uint256 i = 0; i < count; ++i) {
            bytes calldata key = custodians[i].sealingKey;
            if (key.length != SEALING_KEY_BYTES || bytes24(key[:24]) != P384_SPKI_PREFIX) revert InvalidSealingKey();
            if (custodians[i].approver == address(0)) revert ZeroAddress();
            bytes32 keyHash = keccak256(key);
            // At most 16 entries: the quadratic check costs less than a mapping would.
            for (uint256 j = 0; j < i; ++j) {
                if (
                    custodians[j].approver == custodians[i].approver
                        || keccak256(custodians[j].sealingKey) == keyHash
                ) revert DuplicateCustodian();
            }
        }
    }

    function _pendingProposal(uint256 proposalId) private view returns (Proposal storage proposal) {
        proposal = _proposals[proposalId];
        if (proposal.state == ProposalState.None) revert NoSuchProposal();
        if (proposal.state != ProposalState.Pending) revert ProposalNotPending();
    }

    /// @dev The voters are the custodians of the policy the proposal was made against, which
    /// must still be the active one: a vote never counts for a stale proposal.
    function _votableProposal(uint256 proposalId) private returns (Proposal storage proposal) {
        proposal = _pendingProposal(proposalId);
        if (proposal.basePolicyId != recoveryPolicyId) revert StaleProposal();
        RecoveryCustodian[] storage voters = _policies[proposal.basePolicyId].custodians;
        bool found = false;
        for (uint256 i = 0; i < voters.length; ++i) {
            if (voters[i].approver == msg.sender) {
                found = true;
                break;
            }
        }
        if (!found) revert NotCustodian();
        if (_voted[proposalId][msg.sender]) revert AlreadyVoted();
        _voted[proposalId][msg.sender] = true;
    }

    function _activate(uint256 proposalId, Proposal storage proposal, ActivationPath how) private {
        uint256 policyId = recoveryPolicyId + 1;
        Policy storage policy = _policies[policyId];
        policy.threshold = proposal.threshold;
        RecoveryCustodian[] storage custodians = proposal.custodians;
        for (uint256 i = 0; i < custodians.length; ++i) {
            policy.custodians.push(custodians[i]);
        }
        recoveryPolicyId = policyId;
        proposal.state = ProposalState.Activated;
        pendingProposalId = 0;
        emit RecoveryPolicyActivated(policyId, proposalId, proposal.threshold, custodians.length, uint8(how));
    }

    function _isAuthorizedHashSetter(address sender) private view returns (bool) {
        // "The registry is set" (PROTOCOL §9.1) holds by construction: it is never zero.
        if (kmsAppId == 0) return false;
        INovaAppRegistry registry = INovaAppRegistry(novaAppRegistry);
        try registry.getInstanceByWallet(sender) returns (Instance memory instance) {
            if (
                instance.teeWalletAddress != sender || instance.appId != kmsAppId
                    || instance.status != uint8(InstanceStatus.ACTIVE)
            ) return false;
            try registry.getVersion(instance.appId, instance.versionId) returns (Version memory version) {
                return version.status == uint8(VersionStatus.ENROLLED);
            } catch {
                return false;
            }
        } catch {
            return false;
        }
    }
}
