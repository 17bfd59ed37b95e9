// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {KMSRegistry} from "../src/KMSRegistry.sol";
import {NovaAppRegistry} from "../src/NovaAppRegistry.sol";
import {App, Instance, Version} from "../src/interfaces/INovaAppRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {InstanceLifecycleHandler} from "./handlers/InstanceLifecycleHandler.sol";

/// @notice PROTOCOL §9.2 (views, tuple layout) and §9.4 (setters, callbacks).
contract NovaAppRegistryTest is RegistryFixture {
    address internal node = makeAddr("node");
    address internal appOwner = makeAddr("appOwner");
    address internal appWallet = makeAddr("appWallet");
    bytes internal constant TEE_PUBKEY = hex"3076301006072a8648ce3d020106052b8104002203620004";

    function test_SetUpState() public view {
        assertEq(registry.OWNER(), address(this));
        assertEq(registry.instanceCount(), 0);
        assertEq(registry.getApp(KMS_APP_ID).dappContract, address(kms));
        assertEq(registry.getApp(KMS_APP_ID).latestVersionId, KMS_VERSION_ID);
    }

    function test_RevertIf_ConstructedWithZeroOwner() public {
        vm.expectRevert(NovaAppRegistry.NovaAppRegistryZeroAddress.selector);
        new NovaAppRegistry(address(0));
    }

    // ------------------------------------------------------------------ §9.2 ABI

    function test_ViewSelectorsMatchProtocol() public pure {
        assertEq(NovaAppRegistry.getApp.selector, bytes4(0x24f3a51b));
        assertEq(NovaAppRegistry.getVersion.selector, bytes4(0x6987b075));
        assertEq(NovaAppRegistry.getInstanceByWallet.selector, bytes4(0x9863f8a2));
        assertEq(NovaAppRegistry.getActiveInstances.selector, bytes4(0x8c228cbf));
        assertEq(NovaAppRegistry.getInstance.selector, bytes4(0xebd348de));
        assertEq(NovaAppRegistry.getInstancesForVersion.selector, bytes4(0xba4f74fc));
    }

    /// @dev Reads the raw return words: one dynamic tuple (offset 0x20), then the fields in the
    /// normative order, with a string's head being its offset inside the tuple.
    function test_GetAppReturnsTupleInProtocolOrder() public {
        registry.createApp(OTHER_APP_ID, appOwner, address(0), TEE_ARCH, "ipfs://app", appWallet);
        registry.enrollVersion(OTHER_APP_ID, 5, "v5", CODE_MEASUREMENT, "");
        registry.setAppStatus(OTHER_APP_ID, REVOKED);
        bytes memory data = staticRead(abi.encodeCall(NovaAppRegistry.getApp, (OTHER_APP_ID)));
        assertEq(word(data, 0), 0x20);
        assertEq(word(data, 1), OTHER_APP_ID);
        assertEq(word(data, 2), uint256(uint160(appOwner)));
        assertEq(word(data, 3), uint256(TEE_ARCH));
        assertEq(word(data, 4), 0);
        assertEq(word(data, 5), 9 * 32);
        assertEq(word(data, 6), 5);
        assertEq(word(data, 7), block.timestamp);
        assertEq(word(data, 8), REVOKED);
        assertEq(word(data, 9), uint256(uint160(appWallet)));
        assertEq(word(data, 10), bytes("ipfs://app").length);
    }

    function test_GetVersionReturnsTupleInProtocolOrder() public {
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, DEPRECATED);
        bytes memory data = staticRead(abi.encodeCall(NovaAppRegistry.getVersion, (KMS_APP_ID, KMS_VERSION_ID)));
        assertEq(word(data, 0), 0x20);
        assertEq(word(data, 1), KMS_VERSION_ID);
        assertEq(word(data, 3), uint256(CODE_MEASUREMENT));
        assertEq(word(data, 8), DEPRECATED);
        assertEq(word(data, 9), block.timestamp);
        assertEq(word(data, 10), uint256(uint160(address(this))));
        Version memory version = abi.decode(data, (Version));
        assertEq(version.versionName, "v1");
        assertEq(version.imageUri, "oci://kms:v1");
        assertEq(version.auditUrl, "");
        assertEq(version.auditHash, "");
        assertEq(version.githubRunId, "");
    }

    function test_GetInstanceByWalletReturnsTupleInProtocolOrder() public {
        uint256 instanceId =
            registry.registerInstance(KMS_APP_ID, KMS_VERSION_ID, appOwner, "https://n1", TEE_PUBKEY, node, false);
        registry.setInstanceStatus(instanceId, FAILED);
        bytes memory data = staticRead(abi.encodeCall(NovaAppRegistry.getInstanceByWallet, (node)));
        assertEq(word(data, 0), 0x20);
        assertEq(word(data, 1), instanceId);
        assertEq(word(data, 2), KMS_APP_ID);
        assertEq(word(data, 3), KMS_VERSION_ID);
        assertEq(word(data, 4), uint256(uint160(appOwner)));
        assertEq(word(data, 7), uint256(uint160(node)));
        assertEq(word(data, 8), 0);
        assertEq(word(data, 9), FAILED);
        assertEq(word(data, 10), block.timestamp);
        Instance memory instance = abi.decode(data, (Instance));
        assertEq(instance.instanceUrl, "https://n1");
        assertEq(instance.teePubkey, TEE_PUBKEY);
    }

    // ------------------------------------------------------------------ createApp

    function test_CreateApp() public {
        vm.expectEmit(true, true, false, true, address(registry));
        emit NovaAppRegistry.AppCreated(OTHER_APP_ID, appOwner, address(0));
        registry.createApp(OTHER_APP_ID, appOwner, address(0), TEE_ARCH, "ipfs://app", appWallet);
        App memory app = registry.getApp(OTHER_APP_ID);
        assertEq(app.appId, OTHER_APP_ID);
        assertEq(app.owner, appOwner);
        assertEq(app.teeArch, TEE_ARCH);
        assertEq(app.dappContract, address(0));
        assertEq(app.metadataUri, "ipfs://app");
        assertEq(app.latestVersionId, 0);
        assertEq(app.createdAt, block.timestamp);
        assertEq(app.status, ACTIVE);
        assertEq(app.appWallet, appWallet);
    }

    function test_RevertIf_CreateAppByNonOwner() public {
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.createApp(OTHER_APP_ID, appOwner, address(0), TEE_ARCH, "", appWallet);
    }

    function test_RevertIf_CreateAppWithZeroId() public {
        vm.expectRevert(NovaAppRegistry.NovaAppRegistryZeroId.selector);
        registry.createApp(0, appOwner, address(0), TEE_ARCH, "", appWallet);
    }

    function test_RevertIf_CreateAppTwice() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryAppExists.selector, KMS_APP_ID));
        registry.createApp(KMS_APP_ID, appOwner, address(0), TEE_ARCH, "", appWallet);
    }

    // ------------------------------------------------------------------ enrollVersion

    function test_EnrollVersion() public {
        vm.warp(1_800_000_000);
        vm.expectEmit(true, true, false, true, address(registry));
        emit NovaAppRegistry.VersionEnrolled(KMS_APP_ID, 2, keccak256("v2"));
        registry.enrollVersion(KMS_APP_ID, 2, "v2", keccak256("v2"), "oci://kms:v2");
        Version memory version = registry.getVersion(KMS_APP_ID, 2);
        assertEq(version.versionId, 2);
        assertEq(version.versionName, "v2");
        assertEq(version.codeMeasurement, keccak256("v2"));
        assertEq(version.imageUri, "oci://kms:v2");
        assertEq(version.status, ENROLLED);
        assertEq(version.enrolledAt, 1_800_000_000);
        assertEq(version.enrolledBy, address(this));
        assertEq(registry.getApp(KMS_APP_ID).latestVersionId, 2);
    }

    function test_RevertIf_EnrollVersionByNonOwner() public {
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.enrollVersion(KMS_APP_ID, 2, "v2", CODE_MEASUREMENT, "");
    }

    function test_RevertIf_EnrollVersionWithZeroId() public {
        vm.expectRevert(NovaAppRegistry.NovaAppRegistryZeroId.selector);
        registry.enrollVersion(KMS_APP_ID, 0, "v0", CODE_MEASUREMENT, "");
    }

    function test_RevertIf_EnrollVersionOfUnknownApp() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryAppNotFound.selector, OTHER_APP_ID));
        registry.enrollVersion(OTHER_APP_ID, 1, "v1", CODE_MEASUREMENT, "");
    }

    function test_RevertIf_EnrollVersionTwice() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                NovaAppRegistry.NovaAppRegistryVersionExists.selector, KMS_APP_ID, KMS_VERSION_ID
            )
        );
        registry.enrollVersion(KMS_APP_ID, KMS_VERSION_ID, "again", CODE_MEASUREMENT, "");
    }

    // ------------------------------------------------------------------ registerInstance

    function test_RegisterInstance() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit NovaAppRegistry.InstanceRegistered(1, KMS_APP_ID, KMS_VERSION_ID, node);
        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorAdded(node, KMS_APP_ID, KMS_VERSION_ID, 1);
        uint256 instanceId =
            registry.registerInstance(KMS_APP_ID, KMS_VERSION_ID, appOwner, "https://n1", TEE_PUBKEY, node, true);

        assertEq(instanceId, 1);
        Instance memory instance = registry.getInstance(instanceId);
        assertEq(instance.instanceId, 1);
        assertEq(instance.appId, KMS_APP_ID);
        assertEq(instance.versionId, KMS_VERSION_ID);
        assertEq(instance.operator, appOwner);
        assertEq(instance.instanceUrl, "https://n1");
        assertEq(instance.teePubkey, TEE_PUBKEY);
        assertEq(instance.teeWalletAddress, node);
        assertTrue(instance.zkVerified);
        assertEq(instance.status, ACTIVE);
        assertEq(instance.registeredAt, block.timestamp);
        assertTrue(kms.isOperator(node));
    }

    function testFuzz_InstanceIdsAreSequentialFromOne(uint8 count) public {
        count = uint8(bound(count, 1, 40));
        for (uint256 i = 1; i <= count; ++i) {
            assertEq(registerKmsNode(vm.addr(0xC000 + i)), i);
        }
        assertEq(registry.instanceCount(), count);
        assertEq(registry.getActiveInstances(KMS_APP_ID).length, count);
    }

    function test_RegisterInstanceWithoutDappContractCallsNothing() public {
        registry.createApp(OTHER_APP_ID, appOwner, address(0), TEE_ARCH, "", appWallet);
        registry.enrollVersion(OTHER_APP_ID, 1, "v1", CODE_MEASUREMENT, "");
        registry.registerInstance(OTHER_APP_ID, 1, appOwner, "https://app", TEE_PUBKEY, node, true);
        assertEq(registry.getActiveInstances(OTHER_APP_ID)[0], node);
        assertFalse(kms.isOperator(node));
    }

    function test_RevertIf_RegisterInstanceByNonOwner() public {
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.registerInstance(KMS_APP_ID, KMS_VERSION_ID, appOwner, "", TEE_PUBKEY, node, true);
    }

    function test_RevertIf_RegisterInstanceWithZeroWallet() public {
        vm.expectRevert(NovaAppRegistry.NovaAppRegistryZeroAddress.selector);
        registry.registerInstance(KMS_APP_ID, KMS_VERSION_ID, appOwner, "", TEE_PUBKEY, address(0), true);
    }

    function test_RevertIf_RegisterInstanceOfUnknownApp() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryAppNotFound.selector, OTHER_APP_ID));
        registry.registerInstance(OTHER_APP_ID, 1, appOwner, "", TEE_PUBKEY, node, true);
    }

    function test_RevertIf_RegisterInstanceOfInactiveApp() public {
        registry.setAppStatus(KMS_APP_ID, 1);
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryAppNotActive.selector, KMS_APP_ID));
        registerKmsNode(node);
    }

    function test_RevertIf_RegisterInstanceAtUnknownVersion() public {
        vm.expectRevert(
            abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryVersionNotFound.selector, KMS_APP_ID, 9)
        );
        registry.registerInstance(KMS_APP_ID, 9, appOwner, "", TEE_PUBKEY, node, true);
    }

    function test_RevertIf_RegisterInstanceAtDeprecatedVersion() public {
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, DEPRECATED);
        vm.expectRevert(
            abi.encodeWithSelector(
                NovaAppRegistry.NovaAppRegistryVersionNotEnrolled.selector, KMS_APP_ID, KMS_VERSION_ID
            )
        );
        registerKmsNode(node);
    }

    function test_RevertIf_RegisterInstanceWithRegisteredWallet() public {
        registerKmsNode(node);
        vm.expectRevert(
            abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryWalletAlreadyRegistered.selector, node)
        );
        registerKmsNode(node);
    }

    function test_RevertIf_RegisterInstanceWhenCallbackReverts() public {
        // A dappContract whose kmsAppId is unset rejects the callback with AppIdMismatch.
        KMSRegistry unwired = new KMSRegistry(kmsOwner, address(registry), 7 days, 7 days);
        registry.createApp(OTHER_APP_ID, appOwner, address(unwired), TEE_ARCH, "", appWallet);
        registry.enrollVersion(OTHER_APP_ID, 1, "v1", CODE_MEASUREMENT, "");
        vm.expectRevert(KMSRegistry.AppIdMismatch.selector);
        registry.registerInstance(OTHER_APP_ID, 1, appOwner, "", TEE_PUBKEY, node, true);
    }

    // ------------------------------------------------------------------ views

    function test_GetInstanceByWalletOfUnknownWalletIsZeroTuple() public view {
        Instance memory instance = registry.getInstanceByWallet(stranger);
        assertEq(instance.instanceId, 0);
        assertEq(instance.teeWalletAddress, address(0));
        assertEq(instance.instanceUrl, "");
        assertEq(instance.teePubkey.length, 0);
    }

    function test_GetInstanceMatchesGetInstanceByWallet() public {
        uint256 instanceId = registerKmsNode(node);
        assertEq(abi.encode(registry.getInstance(instanceId)), abi.encode(registry.getInstanceByWallet(node)));
    }

    function test_RevertIf_GetAppOfUnknownApp() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryAppNotFound.selector, OTHER_APP_ID));
        registry.getApp(OTHER_APP_ID);
    }

    function test_RevertIf_GetVersionOfUnknownVersion() public {
        vm.expectRevert(
            abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryVersionNotFound.selector, KMS_APP_ID, 2)
        );
        registry.getVersion(KMS_APP_ID, 2);
    }

    function test_RevertIf_GetInstanceOfUnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryInstanceNotFound.selector, 1));
        registry.getInstance(1);
    }

    function test_GetActiveInstancesKeepsRegistrationOrder() public {
        address a = makeAddr("a");
        address b = makeAddr("b");
        address c = makeAddr("c");
        uint256 idA = registerKmsNode(a);
        uint256 idB = registerKmsNode(b);
        registerKmsNode(c);
        registry.setInstanceStatus(idA, STOPPED);
        registry.setInstanceStatus(idB, FAILED);
        registry.setInstanceStatus(idA, ACTIVE);

        address[] memory active = registry.getActiveInstances(KMS_APP_ID);
        assertEq(active.length, 2);
        assertEq(active[0], a);
        assertEq(active[1], c);
        assertEq(registry.getActiveInstances(OTHER_APP_ID).length, 0);
    }

    function test_GetInstancesForVersion() public {
        registry.enrollVersion(KMS_APP_ID, 2, "v2", CODE_MEASUREMENT, "");
        registerKmsNode(makeAddr("a"));
        registry.registerInstance(KMS_APP_ID, 2, appOwner, "", TEE_PUBKEY, makeAddr("b"), true);
        uint256 idC = registerKmsNode(makeAddr("c"));
        registry.setInstanceStatus(idC, STOPPED);

        uint256[] memory ids = registry.getInstancesForVersion(KMS_APP_ID, KMS_VERSION_ID);
        assertEq(ids.length, 2);
        assertEq(ids[0], 1);
        assertEq(ids[1], 3);
        assertEq(registry.getInstancesForVersion(KMS_APP_ID, 2)[0], 2);
        assertEq(registry.getInstancesForVersion(KMS_APP_ID, 3).length, 0);
    }

    // ------------------------------------------------------------------ status setters

    function test_SetAppStatus() public {
        vm.expectEmit(true, false, false, true, address(registry));
        emit NovaAppRegistry.AppStatusSet(KMS_APP_ID, REVOKED);
        registry.setAppStatus(KMS_APP_ID, REVOKED);
        assertEq(registry.getApp(KMS_APP_ID).status, REVOKED);
    }

    function test_RevertIf_SetAppStatusByNonOwner() public {
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.setAppStatus(KMS_APP_ID, REVOKED);
    }

    function test_RevertIf_SetAppStatusOfUnknownApp() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryAppNotFound.selector, OTHER_APP_ID));
        registry.setAppStatus(OTHER_APP_ID, REVOKED);
    }

    function testFuzz_RevertIf_StatusIsOutOfRange(uint8 status) public {
        status = uint8(bound(status, 3, type(uint8).max));
        uint256 instanceId = registerKmsNode(node);
        bytes memory invalid = abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryInvalidStatus.selector, status);
        vm.expectRevert(invalid);
        registry.setAppStatus(KMS_APP_ID, status);
        vm.expectRevert(invalid);
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, status);
        vm.expectRevert(invalid);
        registry.setInstanceStatus(instanceId, status);
    }

    function test_SetVersionStatus() public {
        vm.expectEmit(true, true, false, true, address(registry));
        emit NovaAppRegistry.VersionStatusSet(KMS_APP_ID, KMS_VERSION_ID, REVOKED);
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, REVOKED);
        assertEq(registry.getVersion(KMS_APP_ID, KMS_VERSION_ID).status, REVOKED);
    }

    function test_RevertIf_SetVersionStatusByNonOwner() public {
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, REVOKED);
    }

    function test_RevertIf_SetVersionStatusOfUnknownVersion() public {
        vm.expectRevert(
            abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryVersionNotFound.selector, KMS_APP_ID, 2)
        );
        registry.setVersionStatus(KMS_APP_ID, 2, REVOKED);
    }

    function test_SetInstanceStatusCallsBackOnActiveTransitions() public {
        uint256 instanceId = registerKmsNode(node);

        vm.expectEmit(true, false, false, true, address(registry));
        emit NovaAppRegistry.InstanceStatusSet(instanceId, STOPPED);
        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorRemoved(node, KMS_APP_ID, KMS_VERSION_ID, instanceId);
        registry.setInstanceStatus(instanceId, STOPPED);
        assertFalse(kms.isOperator(node));

        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorAdded(node, KMS_APP_ID, KMS_VERSION_ID, instanceId);
        registry.setInstanceStatus(instanceId, ACTIVE);
        assertTrue(kms.isOperator(node));
        assertEq(registry.getInstance(instanceId).status, ACTIVE);
    }

    /// @dev Only a change into or out of ACTIVE calls the dappContract, and exactly once.
    function testFuzz_SetInstanceStatusCallsBackOnlyWhenActiveChanges(uint8 from, uint8 to) public {
        from = uint8(bound(from, 0, 2));
        to = uint8(bound(to, 0, 2));
        uint256 instanceId = registerKmsNode(node);
        registry.setInstanceStatus(instanceId, from);

        bytes memory added = abi.encodeCall(KMSRegistry.addOperator, (node, KMS_APP_ID, KMS_VERSION_ID, instanceId));
        bytes memory removed =
            abi.encodeCall(KMSRegistry.removeOperator, (node, KMS_APP_ID, KMS_VERSION_ID, instanceId));
        vm.expectCall(address(kms), added, from != ACTIVE && to == ACTIVE ? 1 : 0);
        vm.expectCall(address(kms), removed, from == ACTIVE && to != ACTIVE ? 1 : 0);
        registry.setInstanceStatus(instanceId, to);
        assertEq(kms.isOperator(node), to == ACTIVE);
    }

    function test_RevertIf_SetInstanceStatusWhenCallbackReverts() public {
        uint256 instanceId = registerKmsNode(node);
        // KMSRegistry now answers only to another registry, so the callback reverts.
        vm.prank(kmsOwner);
        kms.setNovaAppRegistry(stranger);
        vm.expectRevert(KMSRegistry.OnlyNovaAppRegistry.selector);
        registry.setInstanceStatus(instanceId, STOPPED);
        assertEq(registry.getInstance(instanceId).status, ACTIVE);
    }

    function test_RevertIf_SetInstanceStatusByNonOwner() public {
        uint256 instanceId = registerKmsNode(node);
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.setInstanceStatus(instanceId, STOPPED);
    }

    function test_RevertIf_SetInstanceStatusOfUnknownInstance() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryInstanceNotFound.selector, 1));
        registry.setInstanceStatus(1, STOPPED);
    }

    // ------------------------------------------------------------------ other instance setters

    function test_SetInstanceZkVerified() public {
        uint256 instanceId = registerKmsNode(node);
        vm.expectEmit(true, false, false, true, address(registry));
        emit NovaAppRegistry.InstanceZkVerifiedSet(instanceId, false);
        registry.setInstanceZkVerified(instanceId, false);
        assertFalse(registry.getInstance(instanceId).zkVerified);
    }

    function test_RevertIf_SetInstanceZkVerifiedByNonOwner() public {
        uint256 instanceId = registerKmsNode(node);
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.setInstanceZkVerified(instanceId, false);
    }

    function test_RevertIf_SetInstanceZkVerifiedOfUnknownInstance() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryInstanceNotFound.selector, 3));
        registry.setInstanceZkVerified(3, true);
    }

    function test_SetInstanceUrl() public {
        uint256 instanceId = registerKmsNode(node);
        vm.expectEmit(true, false, false, true, address(registry));
        emit NovaAppRegistry.InstanceUrlSet(instanceId, "https://moved.example");
        registry.setInstanceUrl(instanceId, "https://moved.example");
        assertEq(registry.getInstanceByWallet(node).instanceUrl, "https://moved.example");
    }

    function test_RevertIf_SetInstanceUrlByNonOwner() public {
        uint256 instanceId = registerKmsNode(node);
        vm.expectRevert(NovaAppRegistry.NotOwner.selector);
        vm.prank(stranger);
        registry.setInstanceUrl(instanceId, "https://evil.example");
    }

    function test_RevertIf_SetInstanceUrlOfUnknownInstance() public {
        vm.expectRevert(abi.encodeWithSelector(NovaAppRegistry.NovaAppRegistryInstanceNotFound.selector, 3));
        registry.setInstanceUrl(3, "https://nowhere.example");
    }

    // ------------------------------------------------------------------ helpers

    function staticRead(bytes memory call) internal view returns (bytes memory data) {
        bool ok;
        (ok, data) = address(registry).staticcall(call);
        assertTrue(ok);
    }

    function word(bytes memory data, uint256 index) internal pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := mload(add(data, add(32, mul(index, 32))))
        }
    }
}

/// @notice Through the callbacks, KMSRegistry's operator set always equals the KMS app's
/// ACTIVE instances (PROTOCOL §9.4 callbacks, §9.1 operator set).
contract NovaAppRegistryInvariantTest is RegistryFixture {
    InstanceLifecycleHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new InstanceLifecycleHandler(registry, address(this), KMS_APP_ID, KMS_VERSION_ID);
        targetContract(address(handler));
    }

    function invariant_OperatorsAreTheActiveKmsInstances() public view {
        address[] memory active = registry.getActiveInstances(KMS_APP_ID);
        assertEq(kms.operatorCount(), active.length);
        for (uint256 i; i < active.length; ++i) {
            assertTrue(kms.isOperator(active[i]));
        }
    }

    function invariant_InstanceIdsAreSequential() public view {
        uint256 count = registry.instanceCount();
        assertEq(count, handler.registeredCount());
        for (uint256 id = 1; id <= count; ++id) {
            assertEq(registry.getInstance(id).instanceId, id);
        }
    }
}
