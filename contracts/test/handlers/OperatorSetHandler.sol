// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {KMSRegistry} from "../../src/KMSRegistry.sol";

/// @notice Drives KMSRegistry's operator set as NovaAppRegistry would, over a small pool of
/// wallets (so adds and removes collide), and keeps a ghost model of the set.
contract OperatorSetHandler is CommonBase {
    KMSRegistry internal immutable kms;
    address internal immutable registry;
    uint256 internal immutable appId;

    /// @dev Slot 0 is the zero wallet: removing it is allowed and must change nothing.
    address[5] public wallets = [address(0), address(0xA1), address(0xA2), address(0xA3), address(0xA4)];
    mapping(address wallet => bool) public isMember;
    uint256 public memberCount;

    constructor(KMSRegistry kms_, address registry_, uint256 appId_) {
        kms = kms_;
        registry = registry_;
        appId = appId_;
    }

    function poolSize() external view returns (uint256) {
        return wallets.length;
    }

    function addOperator(uint256 seed, uint256 versionId, uint256 instanceId) external {
        address wallet = wallets[1 + seed % (wallets.length - 1)];
        vm.prank(registry);
        kms.addOperator(wallet, appId, versionId, instanceId);
        if (!isMember[wallet]) ++memberCount;
        isMember[wallet] = true;
    }

    function removeOperator(uint256 seed, uint256 versionId, uint256 instanceId) external {
        address wallet = wallets[seed % wallets.length];
        vm.prank(registry);
        kms.removeOperator(wallet, appId, versionId, instanceId);
        if (isMember[wallet]) --memberCount;
        isMember[wallet] = false;
    }
}
