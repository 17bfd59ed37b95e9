// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {NovaAppRegistry} from "../../src/NovaAppRegistry.sol";

/// @notice Drives the development registry as its owner would: registers KMS instances from
/// a pool of wallets and moves them between statuses, so that the operator callbacks of
/// PROTOCOL §9.4 fire in every order.
contract InstanceLifecycleHandler is CommonBase {
    NovaAppRegistry internal immutable registry;
    address internal immutable owner;
    uint256 internal immutable appId;
    uint256 internal immutable versionId;

    uint256 internal constant POOL_SIZE = 6;
    uint256 public registeredCount;

    constructor(NovaAppRegistry registry_, address owner_, uint256 appId_, uint256 versionId_) {
        registry = registry_;
        owner = owner_;
        appId = appId_;
        versionId = versionId_;
    }

    function wallet(uint256 index) public view returns (address) {
        return vm.addr(0xB000 + index);
    }

    /// @dev Registers the next wallet of the pool, until the pool is used up.
    function registerInstance(bool zkVerified) external {
        if (registeredCount == POOL_SIZE) return;
        vm.prank(owner);
        registry.registerInstance(
            appId, versionId, owner, "https://node.example", hex"04", wallet(registeredCount), zkVerified
        );
        ++registeredCount;
    }

    function setInstanceStatus(uint256 seed, uint8 status) external {
        if (registeredCount == 0) return;
        uint256 instanceId = 1 + seed % registeredCount;
        vm.prank(owner);
        registry.setInstanceStatus(instanceId, status % 3);
    }
}
