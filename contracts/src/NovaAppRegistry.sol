// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAppOperatorCallbacks} from "./interfaces/IAppOperatorCallbacks.sol";
import {
    App,
    AppStatus,
    INovaAppRegistry,
    Instance,
    InstanceStatus,
    Version,
    VersionStatus
} from "./interfaces/INovaAppRegistry.sol";

/// @title NovaAppRegistry (development)
/// @notice The development registry for local chains and tests (PROTOCOL §9.4): the views of
/// §9.2 exactly, owner-only setters, and the production registry's operator callbacks.
/// @dev Ids of apps and versions are chosen by the caller (0 is invalid); instance ids are
/// sequential from 1. Errors not named by PROTOCOL are `NovaAppRegistry<Problem>` (STYLE).
contract NovaAppRegistry is INovaAppRegistry {
    address public immutable OWNER;

    mapping(uint256 appId => App) private _apps;
    mapping(uint256 appId => mapping(uint256 versionId => Version)) private _versions;
    mapping(uint256 instanceId => Instance) private _instances;
    mapping(address wallet => uint256 instanceId) private _instanceIdByWallet;
    mapping(uint256 appId => uint256[] instanceIds) private _instanceIdsByApp;
    mapping(uint256 appId => mapping(uint256 versionId => uint256[] instanceIds)) private _instanceIdsByVersion;
    uint256 public instanceCount;

    /// @dev Named by PROTOCOL §9.4.
    error NotOwner();
    error NovaAppRegistryZeroId();
    error NovaAppRegistryZeroAddress();
    error NovaAppRegistryInvalidStatus(uint8 status);
    error NovaAppRegistryAppExists(uint256 appId);
    error NovaAppRegistryAppNotFound(uint256 appId);
    error NovaAppRegistryAppNotActive(uint256 appId);
    error NovaAppRegistryVersionExists(uint256 appId, uint256 versionId);
    error NovaAppRegistryVersionNotFound(uint256 appId, uint256 versionId);
    error NovaAppRegistryVersionNotEnrolled(uint256 appId, uint256 versionId);
    error NovaAppRegistryInstanceNotFound(uint256 instanceId);
    error NovaAppRegistryWalletAlreadyRegistered(address wallet);

    event AppCreated(uint256 indexed appId, address indexed appOwner, address dappContract);
    event VersionEnrolled(uint256 indexed appId, uint256 indexed versionId, bytes32 codeMeasurement);
    event InstanceRegistered(
        uint256 indexed instanceId, uint256 indexed appId, uint256 versionId, address indexed teeWalletAddress
    );
    event AppStatusSet(uint256 indexed appId, uint8 status);
    event VersionStatusSet(uint256 indexed appId, uint256 indexed versionId, uint8 status);
    event InstanceStatusSet(uint256 indexed instanceId, uint8 status);
    event InstanceZkVerifiedSet(uint256 indexed instanceId, bool zkVerified);
    event InstanceUrlSet(uint256 indexed instanceId, string instanceUrl);

    modifier onlyOwner() {
        if (msg.sender != OWNER) revert NotOwner();
        _;
    }

    /// @param initialOwner the only account allowed to call the setters.
    constructor(address initialOwner) {
        if (initialOwner == address(0)) revert NovaAppRegistryZeroAddress();
        OWNER = initialOwner;
    }

    // ------------------------------------------------------------------ setters (§9.4)

    /// @notice Creates an ACTIVE app.
    function createApp(
        uint256 appId,
        address appOwner,
        address dappContract,
        bytes32 teeArch,
        string calldata metadataUri,
        address appWallet
    ) external onlyOwner {
        if (appId == 0) revert NovaAppRegistryZeroId();
        if (_apps[appId].appId != 0) revert NovaAppRegistryAppExists(appId);
        _apps[appId] = App({
            appId: appId,
            owner: appOwner,
            teeArch: teeArch,
            dappContract: dappContract,
            metadataUri: metadataUri,
            latestVersionId: 0,
            createdAt: block.timestamp,
            status: uint8(AppStatus.ACTIVE),
            appWallet: appWallet
        });
        emit AppCreated(appId, appOwner, dappContract);
    }

    /// @notice Creates an ENROLLED version and makes it the app's latest.
    function enrollVersion(
        uint256 appId,
        uint256 versionId,
        string calldata versionName,
        bytes32 codeMeasurement,
        string calldata imageUri
    ) external onlyOwner {
        if (versionId == 0) revert NovaAppRegistryZeroId();
        App storage app = _existingApp(appId);
        if (_versions[appId][versionId].versionId != 0) revert NovaAppRegistryVersionExists(appId, versionId);
        _versions[appId][versionId] = Version({
            versionId: versionId,
            versionName: versionName,
            codeMeasurement: codeMeasurement,
            imageUri: imageUri,
            auditUrl: "",
            auditHash: "",
            githubRunId: "",
            status: uint8(VersionStatus.ENROLLED),
            enrolledAt: block.timestamp,
            enrolledBy: msg.sender
        });
        app.latestVersionId = versionId;
        emit VersionEnrolled(appId, versionId, codeMeasurement);
    }

    /// @notice Registers an ACTIVE instance of an ACTIVE app at an ENROLLED version. Each wallet
    /// registers once. Calls `dappContract.addOperator` when the app has one.
    function registerInstance(
        uint256 appId,
        uint256 versionId,
        address operator,
        string calldata instanceUrl,
        bytes calldata teePubkey,
        address teeWalletAddress,
        bool zkVerified
    ) external onlyOwner returns (uint256 instanceId) {
        if (teeWalletAddress == address(0)) revert NovaAppRegistryZeroAddress();
        if (_existingApp(appId).status != uint8(AppStatus.ACTIVE)) revert NovaAppRegistryAppNotActive(appId);
        if (_existingVersion(appId, versionId).status != uint8(VersionStatus.ENROLLED)) {
            revert NovaAppRegistryVersionNotEnrolled(appId, versionId);
        }
        if (_instanceIdByWallet[teeWalletAddress] != 0) {
            revert NovaAppRegistryWalletAlreadyRegistered(teeWalletAddress);
        }
        instanceId = ++instanceCount;
        _instances[instanceId] = Instance({
            instanceId: instanceId,
            appId: appId,
            versionId: versionId,
            operator: operator,
            instanceUrl: instanceUrl,
            teePubkey: teePubkey,
            teeWalletAddress: teeWalletAddress,
            zkVerified: zkVerified,
            status: uint8(InstanceStatus.ACTIVE),
            registeredAt: block.timestamp
        });
        _instanceIdByWallet[teeWalletAddress] = instanceId;
        _instanceIdsByApp[appId].push(instanceId);
        _instanceIdsByVersion[appId][versionId].push(instanceId);
        emit InstanceRegistered(instanceId, appId, versionId, teeWalletAddress);
        _notifyOperatorAdded(_instances[instanceId]);
    }

    function setAppStatus(uint256 appId, uint8 status) external onlyOwner {
        _requireStatus(status);
        _existingApp(appId).status = status;
        emit AppStatusSet(appId, status);
    }

    function setVersionStatus(uint256 appId, uint256 versionId, uint8 status) external onlyOwner {
        _requireStatus(status);
        _existingVersion(appId, versionId).status = status;
        emit VersionStatusSet(appId, versionId, status);
    }

    /// @notice Calls `dappContract.addOperator` when the instance becomes ACTIVE and
    /// `removeOperator` when it leaves ACTIVE; a change between two other statuses calls nothing.
    function setInstanceStatus(uint256 instanceId, uint8 status) external onlyOwner {
        _requireStatus(status);
        Instance storage instance = _existingInstance(instanceId);
        uint8 active = uint8(InstanceStatus.ACTIVE);
        bool wasActive = instance.status == active;
        instance.status = status;
        emit InstanceStatusSet(instanceId, status);
        if (!wasActive && status == active) _notifyOperatorAdded(instance);
        if (wasActive && status != active) _notifyOperatorRemoved(instance);
    }

    function setInstanceZkVerified(uint256 instanceId, bool zkVerified) external onlyOwner {
        _existingInstance(instanceId).zkVerified = zkVerified;
        emit InstanceZkVerifiedSet(instanceId, zkVerified);
    }

    function setInstanceUrl(uint256 instanceId, string calldata instanceUrl) external onlyOwner {
        _existingInstance(instanceId).instanceUrl = instanceUrl;
        emit InstanceUrlSet(instanceId, instanceUrl);
    }

    // ------------------------------------------------------------------ views (§9.2)

    /// @dev Reverts for an unknown app: readers take a revert as "not found" (PROTOCOL §3.3).
    function getApp(uint256 appId) external view returns (App memory) {
        return _existingApp(appId);
    }

    /// @dev Reverts for an unknown version, like `getApp`.
    function getVersion(uint256 appId, uint256 versionId) external view returns (Version memory) {
        return _existingVersion(appId, versionId);
    }

    function getInstanceByWallet(address wallet) external view returns (Instance memory) {
        return _instances[_instanceIdByWallet[wallet]];
    }

    /// @dev Reverts for an unknown id (only `getInstanceByWallet` answers with the zero tuple).
    function getInstance(uint256 instanceId) external view returns (Instance memory) {
        return _existingInstance(instanceId);
    }

    function getActiveInstances(uint256 appId) external view returns (address[] memory wallets) {
        uint256[] storage ids = _instanceIdsByApp[appId];
        wallets = new address[](ids.length);
        uint256 count;
        for (uint256 i; i < ids.length; ++i) {
            Instance storage instance = _instances[ids[i]];
            if (instance.status == uint8(InstanceStatus.ACTIVE)) wallets[count++] = instance.teeWalletAddress;
        }
        assembly ("memory-safe") {
            mstore(wallets, count) // shrink to the ACTIVE ones
        }
    }

    function getInstancesForVersion(uint256 appId, uint256 versionId) external view returns (uint256[] memory) {
        return _instanceIdsByVersion[appId][versionId];
    }

    // ------------------------------------------------------------------ internals

    function _requireStatus(uint8 status) private pure {
        // The three enums share the range 0..2 (PROTOCOL §9.2).
        if (status > uint8(type(AppStatus).max)) revert NovaAppRegistryInvalidStatus(status);
    }

    function _existingApp(uint256 appId) private view returns (App storage app) {
        app = _apps[appId];
        if (app.appId == 0) revert NovaAppRegistryAppNotFound(appId);
    }

    function _existingVersion(uint256 appId, uint256 versionId) private view returns (Version storage version) {
        version = _versions[appId][versionId];
        if (version.versionId == 0) revert NovaAppRegistryVersionNotFound(appId, versionId);
    }

    function _existingInstance(uint256 instanceId) private view returns (Instance storage instance) {
        instance = _instances[instanceId];
        if (instance.instanceId == 0) revert NovaAppRegistryInstanceNotFound(instanceId);
    }

    function _notifyOperatorAdded(Instance storage instance) private {
        address dappContract = _apps[instance.appId].dappContract;
        if (dappContract == address(0)) return;
        IAppOperatorCallbacks(dappContract).addOperator(
            instance.teeWalletAddress, instance.appId, instance.versionId, instance.instanceId
        );
    }

    function _notifyOperatorRemoved(Instance storage instance) private {
        address dappContract = _apps[instance.appId].dappContract;
        if (dappContract == address(0)) return;
        IAppOperatorCallbacks(dappContract).removeOperator(
            instance.teeWalletAddress, instance.appId, instance.versionId, instance.instanceId
        );
    }
}
