// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {KMSRegistry} from "../../src/KMSRegistry.sol";
import {NovaAppRegistry} from "../../src/NovaAppRegistry.sol";

/// @notice The deployed pair as `contracts/deploy` wires it on a dev chain: the KMS app
/// (id 49) has KMSRegistry as its dappContract and one ENROLLED version.
abstract contract RegistryFixture is Test {
    uint256 internal constant KMS_APP_ID = 49;
    uint256 internal constant KMS_VERSION_ID = 1;
    uint256 internal constant OTHER_APP_ID = 7;
    bytes32 internal constant CODE_MEASUREMENT = keccak256("pcr0 || pcr1 || pcr2");
    bytes32 internal constant TEE_ARCH = "nitro";

    uint8 internal constant ACTIVE = 0;
    uint8 internal constant STOPPED = 1;
    uint8 internal constant FAILED = 2;
    uint8 internal constant ENROLLED = 0;
    uint8 internal constant DEPRECATED = 1;
    uint8 internal constant REVOKED = 2;

    address internal kmsOwner = makeAddr("kmsOwner");
    address internal stranger = makeAddr("stranger");
    NovaAppRegistry internal registry;
    KMSRegistry internal kms;

    function setUp() public virtual {
        registry = new NovaAppRegistry(address(this));
        kms = new KMSRegistry(kmsOwner, address(registry), 7 days, 7 days);
        vm.prank(kmsOwner);
        kms.setKmsAppId(KMS_APP_ID);
        registry.createApp(KMS_APP_ID, kmsOwner, address(kms), TEE_ARCH, "ipfs://kms", address(0));
        registry.enrollVersion(KMS_APP_ID, KMS_VERSION_ID, "v1", CODE_MEASUREMENT, "oci://kms:v1");
    }

    /// @dev Registers an instance of the KMS app at version 1 and returns its id.
    function registerKmsNode(address wallet) internal returns (uint256) {
        return registry.registerInstance(
            KMS_APP_ID, KMS_VERSION_ID, address(this), "https://node.example", hex"04", wallet, true
        );
    }
}
