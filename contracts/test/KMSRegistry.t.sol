// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {KMSRegistry} from "../src/KMSRegistry.sol";
import {INovaAppRegistry, Instance} from "../src/interfaces/INovaAppRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {OperatorSetHandler} from "./handlers/OperatorSetHandler.sol";

/// @notice PROTOCOL §9.1: the ABI pins, then each rule of each function.
contract KMSRegistryTest is RegistryFixture {
    bytes32 internal constant HASH = keccak256("master secret");
    address internal node = makeAddr("node");

    function test_SetUpState() public view {
        assertEq(kms.OWNER(), kmsOwner);
        assertEq(kms.novaAppRegistry(), address(registry));
        assertEq(kms.kmsAppId(), KMS_APP_ID);
        assertEq(kms.masterSecretHash(), bytes32(0));
        assertEq(kms.operatorCount(), 0);
    }

    // ------------------------------------------------------------------ ABI (§9.1 tables)

    function test_FunctionSelectorsMatchProtocol() public view {
        // Public state variables have no selector on the type, only on an instance.
        assertEq(kms.OWNER.selector, bytes4(0x117803e3));
        assertEq(kms.novaAppRegistry.selector, bytes4(0x42165882));
        assertEq(KMSRegistry.setNovaAppRegistry.selector, bytes4(0x3a0b4eb6));
        assertEq(kms.kmsAppId.selector, bytes4(0xabd851f1));
        assertEq(KMSRegistry.setKmsAppId.selector, bytes4(0x5123b857));
        assertEq(kms.masterSecretHash.selector, bytes4(0x1ef99d10));
        assertEq(KMSRegistry.setMasterSecretHash.selector, bytes4(0x4df7e390));
        assertEq(KMSRegistry.resetMasterSecretHash.selector, bytes4(0xac52a50b));
        assertEq(KMSRegistry.addOperator.selector, bytes4(0x70706ea7));
        assertEq(KMSRegistry.removeOperator.selector, bytes4(0x1ba8065d));
        assertEq(KMSRegistry.isOperator.selector, bytes4(0x6d70f7ae));
        assertEq(KMSRegistry.operatorCount.selector, bytes4(0x7c6f3158));
        assertEq(KMSRegistry.operatorAt.selector, bytes4(0x26142335));
        assertEq(KMSRegistry.getOperators.selector, bytes4(0x27a099d8));
    }

    function test_ErrorSelectorsMatchProtocol() public pure {
        assertEq(KMSRegistry.NotOwner.selector, bytes4(0x30cd7471));
        assertEq(KMSRegistry.OnlyNovaAppRegistry.selector, bytes4(0xdd434f23));
        assertEq(KMSRegistry.InvalidRegistryAddress.selector, bytes4(0x7bfd2e83));
        assertEq(KMSRegistry.AppIdMismatch.selector, bytes4(0x53565db5));
        assertEq(KMSRegistry.MasterSecretHashAlreadySet.selector, bytes4(0xd7d88fdf));
        assertEq(KMSRegistry.NotAuthorizedToSetHash.selector, bytes4(0xa76d08c2));
        assertEq(KMSRegistry.AppIdAlreadySet.selector, bytes4(0x46359b81));
        assertEq(KMSRegistry.ZeroAddress.selector, bytes4(0xd92e233d));
    }

    function test_EventTopicsMatchProtocol() public pure {
        assertEq(
            KMSRegistry.OperatorAdded.selector, 0x9a11f8de3789dd274386901ee916e843a138bae2e26deaa5e52385967f02b494
        );
        assertEq(
            KMSRegistry.OperatorRemoved.selector, 0x91ea79e2dd8f814a5f7f2d761fd58d18544741ee227afc46798f767068212f95
        );
        assertEq(
            KMSRegistry.MasterSecretHashSet.selector,
            0x7ede93e3a84f34d5f94e72bcca3a2f2aa81e4b3906ceb5a4710cee13839b4172
        );
        assertEq(
            KMSRegistry.MasterSecretHashReset.selector,
            0x0003d2545bac90f8b53bc7e8093960a1b924869dd60b94e65492eb2b9b62b904
        );
        assertEq(KMSRegistry.KmsAppIdSet.selector, 0x70f3533193e699e5c27b9684a9afecf260a0364a706c6e333fbb2e2c310704a4);
        assertEq(
            KMSRegistry.NovaAppRegistrySet.selector, 0x61ca75285a26d131f85e8e2acabcc24730923d1ace291cb409eb450ef907ca8e
        );
    }

    // ------------------------------------------------------------------ constructor, owner setters

    function test_RevertIf_ConstructedWithZeroRegistry() public {
        vm.expectRevert(KMSRegistry.InvalidRegistryAddress.selector);
        new KMSRegistry(kmsOwner, address(0), 7 days, 7 days);
    }

    function test_SetNovaAppRegistry() public {
        address next = makeAddr("nextRegistry");
        vm.expectEmit(true, false, false, true, address(kms));
        emit KMSRegistry.NovaAppRegistrySet(next);
        vm.prank(kmsOwner);
        kms.setNovaAppRegistry(next);
        assertEq(kms.novaAppRegistry(), next);
    }

    function test_RevertIf_SetNovaAppRegistryByNonOwner() public {
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(stranger);
        kms.setNovaAppRegistry(makeAddr("nextRegistry"));
    }

    function test_RevertIf_SetNovaAppRegistryToZero() public {
        vm.expectRevert(KMSRegistry.InvalidRegistryAddress.selector);
        vm.prank(kmsOwner);
        kms.setNovaAppRegistry(address(0));
    }

    function test_SetKmsAppId() public {
        KMSRegistry fresh = new KMSRegistry(kmsOwner, address(registry), 7 days, 7 days);
        vm.expectEmit(true, false, false, true, address(fresh));
        emit KMSRegistry.KmsAppIdSet(KMS_APP_ID);
        vm.prank(kmsOwner);
        fresh.setKmsAppId(KMS_APP_ID);
        assertEq(fresh.kmsAppId(), KMS_APP_ID);
    }

    function test_RevertIf_SetKmsAppIdTwice() public {
        vm.expectRevert(KMSRegistry.AppIdAlreadySet.selector);
        vm.prank(kmsOwner);
        kms.setKmsAppId(KMS_APP_ID + 1);
    }

    function test_RevertIf_SetKmsAppIdByNonOwner() public {
        KMSRegistry fresh = new KMSRegistry(kmsOwner, address(registry), 7 days, 7 days);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(stranger);
        fresh.setKmsAppId(KMS_APP_ID);
    }

    // ------------------------------------------------------------------ setMasterSecretHash

    function test_SetMasterSecretHash() public {
        registerKmsNode(node);
        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.MasterSecretHashSet(HASH, node);
        vm.prank(node);
        kms.setMasterSecretHash(HASH);
        assertEq(kms.masterSecretHash(), HASH);
    }

    function testFuzz_SetMasterSecretHash(bytes32 hash) public {
        vm.assume(hash != bytes32(0));
        registerKmsNode(node);
        vm.prank(node);
        kms.setMasterSecretHash(hash);
        assertEq(kms.masterSecretHash(), hash);
    }

    function test_SetMasterSecretHashIgnoresZkVerified() public {
        uint256 instanceId = registerKmsNode(node);
        registry.setInstanceZkVerified(instanceId, false);
        vm.prank(node);
        kms.setMasterSecretHash(HASH);
        assertEq(kms.masterSecretHash(), HASH);
    }

    function test_RevertIf_MasterSecretHashAlreadySet() public {
        registerKmsNode(node);
        vm.prank(node);
        kms.setMasterSecretHash(HASH);
        // Checked before authorization: a second node, or anyone, learns the hash is taken.
        vm.expectRevert(KMSRegistry.MasterSecretHashAlreadySet.selector);
        vm.prank(stranger);
        kms.setMasterSecretHash(keccak256("another secret"));
    }

    function test_RevertIf_SetMasterSecretHashByUnregisteredWallet() public {
        expectSetHashUnauthorized(stranger);
    }

    function test_RevertIf_SetMasterSecretHashWithoutKmsAppId() public {
        KMSRegistry fresh = new KMSRegistry(kmsOwner, address(registry), 7 days, 7 days);
        registerKmsNode(node);
        vm.expectRevert(KMSRegistry.NotAuthorizedToSetHash.selector);
        vm.prank(node);
        fresh.setMasterSecretHash(HASH);
    }

    function test_RevertIf_SetMasterSecretHashByInstanceOfOtherApp() public {
        registry.createApp(OTHER_APP_ID, stranger, address(0), TEE_ARCH, "", address(0));
        registry.enrollVersion(OTHER_APP_ID, 1, "v1", CODE_MEASUREMENT, "");
        registry.registerInstance(OTHER_APP_ID, 1, stranger, "https://app", hex"04", node, true);
        expectSetHashUnauthorized(node);
    }

    function test_RevertIf_SetMasterSecretHashByStoppedInstance() public {
        registry.setInstanceStatus(registerKmsNode(node), STOPPED);
        expectSetHashUnauthorized(node);
    }

    function test_RevertIf_SetMasterSecretHashByFailedInstance() public {
        registry.setInstanceStatus(registerKmsNode(node), FAILED);
        expectSetHashUnauthorized(node);
    }

    function test_RevertIf_SetMasterSecretHashAtDeprecatedVersion() public {
        registerKmsNode(node);
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, DEPRECATED);
        expectSetHashUnauthorized(node);
    }

    function test_RevertIf_SetMasterSecretHashAtRevokedVersion() public {
        registerKmsNode(node);
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, REVOKED);
        expectSetHashUnauthorized(node);
    }

    function test_RevertIf_SetMasterSecretHashWhenInstanceWalletDiffers() public {
        registerKmsNode(node);
        Instance memory instance = registry.getInstanceByWallet(node);
        instance.teeWalletAddress = stranger;
        vm.mockCall(
            address(registry), abi.encodeCall(INovaAppRegistry.getInstanceByWallet, (node)), abi.encode(instance)
        );
        expectSetHashUnauthorized(node);
    }

    function test_RevertIf_SetMasterSecretHashWhenInstanceReadReverts() public {
        registerKmsNode(node);
        vm.mockCallRevert(
            address(registry), abi.encodeCall(INovaAppRegistry.getInstanceByWallet, (node)), bytes("registry down")
        );
        expectSetHashUnauthorized(node);
    }

    function test_RevertIf_SetMasterSecretHashWhenVersionReadReverts() public {
        registerKmsNode(node);
        vm.mockCallRevert(
            address(registry),
            abi.encodeCall(INovaAppRegistry.getVersion, (KMS_APP_ID, KMS_VERSION_ID)),
            bytes("registry down")
        );
        expectSetHashUnauthorized(node);
    }

    // ------------------------------------------------------------------ resetMasterSecretHash

    function test_ResetMasterSecretHash() public {
        registerKmsNode(node);
        vm.prank(node);
        kms.setMasterSecretHash(HASH);

        vm.expectEmit(true, false, false, true, address(kms));
        emit KMSRegistry.MasterSecretHashReset(kmsOwner);
        vm.prank(kmsOwner);
        kms.resetMasterSecretHash();
        assertEq(kms.masterSecretHash(), bytes32(0));

        // The zero state is back: a node can commit again (PROTOCOL §7.5).
        vm.prank(node);
        kms.setMasterSecretHash(HASH);
        assertEq(kms.masterSecretHash(), HASH);
    }

    function test_RevertIf_ResetMasterSecretHashByNonOwner() public {
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(stranger);
        kms.resetMasterSecretHash();
    }

    // ------------------------------------------------------------------ operators

    function test_AddOperator() public {
        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorAdded(node, KMS_APP_ID, 3, 4);
        vm.prank(address(registry));
        kms.addOperator(node, KMS_APP_ID, 3, 4);
        assertTrue(kms.isOperator(node));
        assertEq(kms.operatorCount(), 1);
        assertEq(kms.operatorAt(0), node);
    }

    function test_AddOperatorTwiceChangesNothingButEmits() public {
        addAsRegistry(node);
        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorAdded(node, KMS_APP_ID, 1, 1);
        addAsRegistry(node);
        assertEq(kms.operatorCount(), 1);
        assertEq(kms.getOperators().length, 1);
    }

    function test_RevertIf_AddOperatorNotFromRegistry() public {
        vm.expectRevert(KMSRegistry.OnlyNovaAppRegistry.selector);
        vm.prank(kmsOwner);
        kms.addOperator(node, KMS_APP_ID, 1, 1);
    }

    function test_RevertIf_AddOperatorOfOtherApp() public {
        vm.expectRevert(KMSRegistry.AppIdMismatch.selector);
        vm.prank(address(registry));
        kms.addOperator(node, OTHER_APP_ID, 1, 1);
    }

    function test_RevertIf_AddOperatorWithZeroWallet() public {
        vm.expectRevert(KMSRegistry.ZeroAddress.selector);
        vm.prank(address(registry));
        kms.addOperator(address(0), KMS_APP_ID, 1, 1);
    }

    function test_RemoveOperatorSwapsLastIntoItsPlace() public {
        address a = makeAddr("a");
        address b = makeAddr("b");
        address c = makeAddr("c");
        addAsRegistry(a);
        addAsRegistry(b);
        addAsRegistry(c);

        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorRemoved(a, KMS_APP_ID, 1, 1);
        removeAsRegistry(a);

        address[] memory operators = kms.getOperators();
        assertEq(operators.length, 2);
        assertEq(operators[0], c);
        assertEq(operators[1], b);
        assertFalse(kms.isOperator(a));
        assertEq(kms.operatorAt(0), c);
    }

    function test_RemoveAbsentOperatorChangesNothingButEmits() public {
        addAsRegistry(node);
        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorRemoved(stranger, KMS_APP_ID, 1, 1);
        removeAsRegistry(stranger);
        assertEq(kms.operatorCount(), 1);
        assertTrue(kms.isOperator(node));
    }

    function test_RemoveZeroWalletChangesNothingButEmits() public {
        addAsRegistry(node);
        vm.expectEmit(true, true, false, true, address(kms));
        emit KMSRegistry.OperatorRemoved(address(0), KMS_APP_ID, 1, 1);
        removeAsRegistry(address(0));
        assertEq(kms.operatorCount(), 1);
    }

    function test_RevertIf_RemoveOperatorNotFromRegistry() public {
        addAsRegistry(node);
        vm.expectRevert(KMSRegistry.OnlyNovaAppRegistry.selector);
        vm.prank(stranger);
        kms.removeOperator(node, KMS_APP_ID, 1, 1);
    }

    function test_RevertIf_RemoveOperatorOfOtherApp() public {
        addAsRegistry(node);
        vm.expectRevert(KMSRegistry.AppIdMismatch.selector);
        vm.prank(address(registry));
        kms.removeOperator(node, OTHER_APP_ID, 1, 1);
    }

    function test_RevertIf_OperatorAtOutOfBounds() public {
        addAsRegistry(node);
        vm.expectRevert(bytes("Index out of bounds"));
        kms.operatorAt(1);
    }

    function test_RegistryCallbacksMaintainOperators() public {
        uint256 instanceId = registerKmsNode(node);
        assertTrue(kms.isOperator(node));
        registry.setInstanceStatus(instanceId, STOPPED);
        assertFalse(kms.isOperator(node));
        registry.setInstanceStatus(instanceId, ACTIVE);
        assertTrue(kms.isOperator(node));
    }

    /// @dev Applies up to 64 random adds and removes over a pool of 6 wallets (zero included,
    /// removal only) and checks every view against a plain model after each step.
    function testFuzz_OperatorSequenceKeepsViewsConsistent(uint256[] calldata steps) public {
        address[6] memory pool =
            [address(0), makeAddr("w1"), makeAddr("w2"), makeAddr("w3"), makeAddr("w4"), makeAddr("w5")];
        bool[6] memory member;
        uint256 length = steps.length > 64 ? 64 : steps.length;
        for (uint256 i; i < length; ++i) {
            uint256 slot = (steps[i] >> 1) % pool.length;
            bool add = steps[i] & 1 == 1 && slot != 0;
            if (add) addAsRegistry(pool[slot]);
            else removeAsRegistry(pool[slot]);
            member[slot] = add;
            assertViewsMatch(pool, member);
        }
    }

    // ------------------------------------------------------------------ helpers

    function expectSetHashUnauthorized(address sender) internal {
        vm.expectRevert(KMSRegistry.NotAuthorizedToSetHash.selector);
        vm.prank(sender);
        kms.setMasterSecretHash(HASH);
    }

    function addAsRegistry(address operator) internal {
        vm.prank(address(registry));
        kms.addOperator(operator, KMS_APP_ID, 1, 1);
    }

    function removeAsRegistry(address operator) internal {
        vm.prank(address(registry));
        kms.removeOperator(operator, KMS_APP_ID, 1, 1);
    }

    function assertViewsMatch(address[6] memory pool, bool[6] memory member) internal view {
        uint256 expectedCount;
        for (uint256 slot; slot < pool.length; ++slot) {
            assertEq(kms.isOperator(pool[slot]), member[slot]);
            if (member[slot]) ++expectedCount;
        }
        address[] memory operators = kms.getOperators();
        assertEq(kms.operatorCount(), expectedCount);
        assertEq(operators.length, expectedCount);
        for (uint256 i; i < operators.length; ++i) {
            assertEq(kms.operatorAt(i), operators[i]);
            assertTrue(kms.isOperator(operators[i]));
        }
    }
}

/// @notice The operator views agree with each other and with a ghost model, whatever the
/// registry's sequence of idempotent adds and removes (PROTOCOL §9.1).
contract KMSRegistryInvariantTest is RegistryFixture {
    OperatorSetHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new OperatorSetHandler(kms, address(registry), KMS_APP_ID);
        targetContract(address(handler));
    }

    function invariant_OperatorViewsMatchModel() public view {
        address[] memory operators = kms.getOperators();
        assertEq(operators.length, kms.operatorCount());
        assertEq(operators.length, handler.memberCount());
        for (uint256 i; i < operators.length; ++i) {
            assertEq(kms.operatorAt(i), operators[i]);
            assertTrue(handler.isMember(operators[i]));
        }
        for (uint256 slot; slot < handler.poolSize(); ++slot) {
            address wallet = handler.wallets(slot);
            assertEq(kms.isOperator(wallet), handler.isMember(wallet));
        }
    }

    function invariant_ZeroWalletIsNeverAnOperator() public view {
        assertFalse(kms.isOperator(address(0)));
    }
}
