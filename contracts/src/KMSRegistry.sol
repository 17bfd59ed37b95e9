// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAppOperatorCallbacks} from "./interfaces/IAppOperatorCallbacks.sol";
import {INovaAppRegistry, Instance, InstanceStatus, Version, VersionStatus} from "./interfaces/INovaAppRegistry.sol";

/// @title KMSRegistry
/// @notice The Nova KMS cluster's on-chain anchor (PROTOCOL §9.1): the operator set, which
/// NovaAppRegistry maintains through callbacks, and the master-secret hash, which the first
/// authorized KMS node commits.
/// @dev Non-upgradeable. The ABI, errors and events are upstream nova-kms (c)'s exactly, plus
/// `ZeroAddress()`; every selector and topic is pinned in test/KMSRegistry.t.sol.
contract KMSRegistry is IAppOperatorCallbacks {
    address public immutable OWNER;
    address public novaAppRegistry;
    uint256 public kmsAppId;
    bytes32 public masterSecretHash;

    address[] private _operators;
    /// @dev Position in `_operators` plus one; zero means "not an operator".
    mapping(address operator => uint256 positionPlusOne) private _operatorPosition;

    error NotOwner();
    error OnlyNovaAppRegistry();
    error InvalidRegistryAddress();
    error AppIdMismatch();
    error MasterSecretHashAlreadySet();
    error NotAuthorizedToSetHash();
    error AppIdAlreadySet();
    error ZeroAddress();

    event OperatorAdded(address indexed operator, uint256 indexed appId, uint256 versionId, uint256 instanceId);
    event OperatorRemoved(address indexed operator, uint256 indexed appId, uint256 versionId, uint256 instanceId);
    event MasterSecretHashSet(bytes32 indexed hash, address indexed setter);
    event MasterSecretHashReset(address indexed resetter);
    event KmsAppIdSet(uint256 indexed appId);
    event NovaAppRegistrySet(address indexed registry);

    modifier onlyOwner() {
        if (msg.sender != OWNER) revert NotOwner();
        _;
    }

    modifier onlyNovaAppRegistry() {
        if (msg.sender != novaAppRegistry) revert OnlyNovaAppRegistry();
        _;
    }

    constructor(address initialOwner, address appRegistry_) {
        if (appRegistry_ == address(0)) revert InvalidRegistryAddress();
        OWNER = initialOwner;
        novaAppRegistry = appRegistry_;
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

    /// @notice Commits the cluster's master-secret hash. Only the first writer wins
    /// (PROTOCOL §7.5 rule 3): every other node converges by syncing the secret.
    /// @dev The sender must be an ACTIVE KMS instance whose version is ENROLLED. zkVerified is
    /// not checked and DEPRECATED does not qualify (PROTOCOL §9.1). Registry reads run under
    /// try/catch so that a registry revert reads as "not authorized".
    function setMasterSecretHash(bytes32 hash) external {
        if (masterSecretHash != bytes32(0)) revert MasterSecretHashAlreadySet();
        if (!_isAuthorizedHashSetter(msg.sender)) revert NotAuthorizedToSetHash();
        masterSecretHash = hash;
        emit MasterSecretHashSet(hash, msg.sender);
    }

    /// @notice Brings back the zero state; the nodes then re-commit the secret they hold
    /// (PROTOCOL §7.5).
    function resetMasterSecretHash() external onlyOwner {
        masterSecretHash = bytes32(0);
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
