// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice App status (PROTOCOL §9.2). Stored and returned as uint8.
enum AppStatus {
    ACTIVE,
    INACTIVE,
    REVOKED
}

/// @notice Version status (PROTOCOL §9.2). Stored and returned as uint8.
enum VersionStatus {
    ENROLLED,
    DEPRECATED,
    REVOKED
}

/// @notice Instance status (PROTOCOL §9.2). Stored and returned as uint8.
enum InstanceStatus {
    ACTIVE,
    STOPPED,
    FAILED
}

// The field positions below are normative (PROTOCOL §9.2); the names are not. Statuses are
// raw uint8 rather than the enums above so that a reader decoding a registry's answer never
// fails on a value it does not know: KMSRegistry treats such a value as "not authorized".

struct App {
    uint256 appId;
    address owner;
    bytes32 teeArch;
    address dappContract;
    string metadataUri;
    uint256 latestVersionId;
    uint256 createdAt;
    uint8 status;
    address appWallet;
}

struct Version {
    uint256 versionId;
    string versionName;
    bytes32 codeMeasurement;
    string imageUri;
    string auditUrl;
    string auditHash;
    string githubRunId;
    uint8 status;
    uint256 enrolledAt;
    address enrolledBy;
}

struct Instance {
    uint256 instanceId;
    uint256 appId;
    uint256 versionId;
    address operator;
    string instanceUrl;
    bytes teePubkey;
    address teeWalletAddress;
    bool zkVerified;
    uint8 status;
    uint256 registeredAt;
}

/// @title The NovaAppRegistry views that Nova KMS reads (PROTOCOL §9.2).
interface INovaAppRegistry {
    function getApp(uint256 appId) external view returns (App memory);

    function getVersion(uint256 appId, uint256 versionId) external view returns (Version memory);

    /// @dev An unknown wallet gives the zero tuple.
    function getInstanceByWallet(address wallet) external view returns (Instance memory);

    function getInstance(uint256 instanceId) external view returns (Instance memory);

    /// @dev The ACTIVE wallets of the app, in registration order.
    function getActiveInstances(uint256 appId) external view returns (address[] memory);

    function getInstancesForVersion(uint256 appId, uint256 versionId) external view returns (uint256[] memory);
}
