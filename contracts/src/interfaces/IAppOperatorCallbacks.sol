// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The callbacks NovaAppRegistry makes on an app's `dappContract` (PROTOCOL §9.4).
/// @notice Called when an instance of the app becomes ACTIVE (`addOperator`) or leaves
/// ACTIVE (`removeOperator`). A revert makes the registry's setter revert.
interface IAppOperatorCallbacks {
    function addOperator(address operator, uint256 appId, uint256 versionId, uint256 instanceId) external;

    function removeOperator(address operator, uint256 appId, uint256 versionId, uint256 instanceId) external;
}
