// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {KMSRegistry} from "../src/KMSRegistry.sol";
import {INovaAppRegistry} from "../src/interfaces/INovaAppRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice Issue 16 (PROTOCOL §7.7, §9.1 "Key epochs"): one master-secret hash per cluster
/// epoch, rotation with at most two live epochs, retirement by the operators' on-chain reports
/// or after the grace period, per-app key epochs, and recovery policies bound to one epoch.
contract KMSRegistryEpochsTest is RegistryFixture {
    bytes32 internal constant HASH_0 = keccak256("secret of epoch 0");
    bytes32 internal constant HASH_1 = keccak256("secret of epoch 1");
    bytes32 internal constant HASH_2 = keccak256("secret of epoch 2");
    uint256 internal constant GRACE = 7 days;
    uint256 internal constant APP_ID = 11;
    bytes24 internal constant PREFIX = 0x3076301006072a8648ce3d020106052b8104002203620004;

    address internal nodeA = makeAddr("nodeA");
    address internal nodeB = makeAddr("nodeB");
    address internal appOwner = makeAddr("appOwner");
    uint256 internal instanceA;
    uint256 internal instanceB;

    event MasterSecretHashSet(bytes32 indexed hash, address indexed setter);
    event EpochHashCommitted(uint256 indexed epoch, bytes32 indexed hash);
    event RotationStarted(uint256 indexed epoch, address indexed by);
    event EpochMigrationReported(uint256 indexed epoch, address indexed operator);
    event EpochRetired(uint256 indexed epoch, bool forced);
    event AppKeyEpochSet(uint256 indexed appId, uint256 epoch, address indexed owner);
    event BackupPublished(bytes32 indexed secretHash, uint256 indexed policyId, address indexed publisher);

    uint256 internal deployedAt;

    function setUp() public override {
        vm.warp(1_700_000_000);
        deployedAt = block.timestamp;
        super.setUp();
        instanceA = registerKmsNode(nodeA);
        instanceB = registerKmsNode(nodeB);
        registry.createApp(APP_ID, appOwner, address(0), TEE_ARCH, "ipfs://app", address(0));
    }

    function test_SetUpState() public view {
        assertEq(kms.currentEpoch(), 0);
        assertEq(kms.RETIRE_GRACE_SECONDS(), GRACE);
        assertEq(kms.masterSecretHash(), bytes32(0));
        assertEq(kms.masterSecretHashOf(0), bytes32(0));
        assertEq(kms.epochStartedAt(0), deployedAt);
        assertEq(kms.epochStartedAt(1), 0);
        assertFalse(kms.isEpochRetired(0));
        assertTrue(kms.isOperator(nodeA));
        assertTrue(kms.isOperator(nodeB));
        assertEq(kms.appKeyEpoch(APP_ID), 0);
        (bool reported, uint256 epoch) = kms.migratedEpochOf(nodeA);
        assertFalse(reported);
        assertEq(epoch, 0);
        (bool bound, uint256 policyEpoch) = kms.recoveryPolicyEpoch(1);
        assertFalse(bound);
        assertEq(policyEpoch, 0);
    }

    // ------------------------------------------------------------------ ABI pins (§9.1 "Key epochs")

    function test_FunctionSelectorsMatchProtocol() public view {
        assertEq(kms.RETIRE_GRACE_SECONDS.selector, bytes4(0x38dcd4f7));
        assertEq(kms.currentEpoch.selector, bytes4(0x76671808));
        assertEq(kms.appKeyEpoch.selector, bytes4(0xe56a2b13));
        assertEq(KMSRegistry.masterSecretHash.selector, bytes4(0x1ef99d10));
        assertEq(KMSRegistry.masterSecretHashOf.selector, bytes4(0x8f2dcbb4));
        assertEq(KMSRegistry.epochStartedAt.selector, bytes4(0x2bab2591));
        assertEq(KMSRegistry.isEpochRetired.selector, bytes4(0x3d1a1e85));
        assertEq(KMSRegistry.migratedEpochOf.selector, bytes4(0xa0e27ad5));
        assertEq(KMSRegistry.startRotation.selector, bytes4(0x0a598e2a));
        assertEq(KMSRegistry.reportEpochMigrated.selector, bytes4(0x072a5b49));
        assertEq(KMSRegistry.retireEpoch.selector, bytes4(0x3c825143));
        assertEq(KMSRegistry.forceRetireEpoch.selector, bytes4(0xcfd26f71));
        assertEq(KMSRegistry.setAppKeyEpoch.selector, bytes4(0xa5e06592));
        assertEq(KMSRegistry.recoveryPolicyEpoch.selector, bytes4(0x6a816d7b));
    }

    function test_ErrorSelectorsMatchProtocol() public pure {
        assertEq(KMSRegistry.InvalidGracePeriod.selector, bytes4(0xd7c43e0f));
        assertEq(KMSRegistry.HashOfEarlierEpoch.selector, bytes4(0x8eee294b));
        assertEq(KMSRegistry.EpochNotCommitted.selector, bytes4(0xedbdeb16));
        assertEq(KMSRegistry.PreviousEpochNotRetired.selector, bytes4(0x408e17d3));
        assertEq(KMSRegistry.NotOperator.selector, bytes4(0x7c214f04));
        assertEq(KMSRegistry.NotCurrentEpoch.selector, bytes4(0xdd5145d6));
        assertEq(KMSRegistry.EpochNotRetirable.selector, bytes4(0x548c05f8));
        assertEq(KMSRegistry.EpochAlreadyRetired.selector, bytes4(0x4c2227e7));
        assertEq(KMSRegistry.MigrationIncomplete.selector, bytes4(0x1d8bf277));
        assertEq(KMSRegistry.GracePeriodNotOver.selector, bytes4(0xd15f73b5));
        assertEq(KMSRegistry.NotAppOwner.selector, bytes4(0x866696f0));
        assertEq(KMSRegistry.InvalidAppKeyEpoch.selector, bytes4(0xe4a8bad2));
        assertEq(KMSRegistry.PolicyBoundToAnotherEpoch.selector, bytes4(0x59da8f23));
    }

    function test_EventTopicsMatchProtocol() public pure {
        assertEq(EpochHashCommitted.selector, 0x36347a81da07b81d3a2e9a1b53e1b372fd5d77a82a25a58d4a492b4f893956c6);
        assertEq(RotationStarted.selector, 0xfaa15cb48974f4de523cfe07dc91867b4f80c82342bf7ed666d88dbe5ee7e202);
        assertEq(EpochMigrationReported.selector, 0x9a05f92022b7c9d45525837b96e91f993394fc3b9e7198910c1a70b1d379ac90);
        assertEq(EpochRetired.selector, 0xc2cc9a7ccf8de3bfef51a2130afdb8d90992ebdc644761d73eda4f4479eb7fb8);
        assertEq(AppKeyEpochSet.selector, 0x4a43dc521003c280f2b80a5ad0a357eced30e5813330a87b9370d14ac64608a6);
        // The contract's own events are the ones declared here.
        assertEq(KMSRegistry.EpochHashCommitted.selector, EpochHashCommitted.selector);
        assertEq(KMSRegistry.RotationStarted.selector, RotationStarted.selector);
        assertEq(KMSRegistry.EpochMigrationReported.selector, EpochMigrationReported.selector);
        assertEq(KMSRegistry.EpochRetired.selector, EpochRetired.selector);
        assertEq(KMSRegistry.AppKeyEpochSet.selector, AppKeyEpochSet.selector);
    }

    // ------------------------------------------------------------------ constructor

    function test_RevertIf_ConstructedWithGraceOutOfRange() public {
        vm.expectRevert(KMSRegistry.InvalidGracePeriod.selector);
        new KMSRegistry(kmsOwner, address(registry), 7 days, 0);
        vm.expectRevert(KMSRegistry.InvalidGracePeriod.selector);
        new KMSRegistry(kmsOwner, address(registry), 7 days, uint256(type(uint32).max) + 1);
        assertEq(new KMSRegistry(kmsOwner, address(registry), 7 days, 1).RETIRE_GRACE_SECONDS(), 1);
        assertEq(
            new KMSRegistry(kmsOwner, address(registry), 7 days, type(uint32).max).RETIRE_GRACE_SECONDS(),
            type(uint32).max
        );
    }

    function testFuzz_ConstructorGraceBounds(uint256 grace) public {
        if (grace == 0 || grace > type(uint32).max) {
            vm.expectRevert(KMSRegistry.InvalidGracePeriod.selector);
            new KMSRegistry(kmsOwner, address(registry), 7 days, grace);
        } else {
            assertEq(new KMSRegistry(kmsOwner, address(registry), 7 days, grace).RETIRE_GRACE_SECONDS(), grace);
        }
    }

    // ------------------------------------------------------------------ setMasterSecretHash per epoch

    function test_SetMasterSecretHashCommitsTheCurrentEpoch() public {
        vm.expectEmit(address(kms));
        emit MasterSecretHashSet(HASH_0, nodeA);
        vm.expectEmit(address(kms));
        emit EpochHashCommitted(0, HASH_0);
        commit(nodeA, HASH_0);
        assertEq(kms.masterSecretHash(), HASH_0);
        assertEq(kms.masterSecretHashOf(0), HASH_0);
        assertEq(kms.masterSecretHashOf(1), bytes32(0));

        rotate();
        assertEq(kms.masterSecretHash(), bytes32(0));
        vm.expectEmit(address(kms));
        emit MasterSecretHashSet(HASH_1, nodeB);
        vm.expectEmit(address(kms));
        emit EpochHashCommitted(1, HASH_1);
        commit(nodeB, HASH_1);
        assertEq(kms.masterSecretHash(), HASH_1);
        assertEq(kms.masterSecretHashOf(0), HASH_0);
        assertEq(kms.masterSecretHashOf(1), HASH_1);
    }

    function test_RevertIf_HashOfEarlierEpoch() public {
        commit(nodeA, HASH_0);
        rotate();
        expectCommitRevert(nodeA, HASH_0, KMSRegistry.HashOfEarlierEpoch.selector);
        commit(nodeA, HASH_1);
        retireAll(0);
        rotate();
        // Across two rotations: neither earlier epoch's hash comes back.
        expectCommitRevert(nodeB, HASH_0, KMSRegistry.HashOfEarlierEpoch.selector);
        expectCommitRevert(nodeB, HASH_1, KMSRegistry.HashOfEarlierEpoch.selector);
        commit(nodeB, HASH_2);
        assertEq(kms.masterSecretHashOf(2), HASH_2);
    }

    function test_RevertIf_HashOfEarlierEpochEvenAfterItsReset() public {
        // A hash reset away in epoch 0 stays epoch 0's: it is not reusable in epoch 1 either.
        commit(nodeA, HASH_1);
        vm.prank(kmsOwner);
        kms.resetMasterSecretHash();
        commit(nodeA, HASH_0);
        rotate();
        expectCommitRevert(nodeA, HASH_1, KMSRegistry.HashOfEarlierEpoch.selector);
    }

    function test_RecommitSameHashAfterResetInSameEpoch() public {
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, HASH_1);
        vm.expectEmit(address(kms));
        emit KMSRegistry.MasterSecretHashReset(kmsOwner);
        vm.prank(kmsOwner);
        kms.resetMasterSecretHash();
        // Only the current epoch is reset.
        assertEq(kms.masterSecretHash(), bytes32(0));
        assertEq(kms.masterSecretHashOf(1), bytes32(0));
        assertEq(kms.masterSecretHashOf(0), HASH_0);
        vm.expectEmit(address(kms));
        emit EpochHashCommitted(1, HASH_1);
        commit(nodeB, HASH_1);
        assertEq(kms.masterSecretHashOf(1), HASH_1);
    }

    function test_RevertIf_MasterSecretHashAlreadySetInLaterEpoch() public {
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, HASH_1);
        expectCommitRevert(nodeB, HASH_2, KMSRegistry.MasterSecretHashAlreadySet.selector);
    }

    function test_RevertIf_UnauthorizedCommitInLaterEpoch() public {
        commit(nodeA, HASH_0);
        rotate();
        // Authorization comes before the earlier-epoch check: a stranger learns nothing more.
        expectCommitRevert(stranger, HASH_0, KMSRegistry.NotAuthorizedToSetHash.selector);
        expectCommitRevert(stranger, HASH_1, KMSRegistry.NotAuthorizedToSetHash.selector);
    }

    function test_ZeroHashIsNeverBoundToAnEpoch() public {
        // Committing zero leaves the epoch uncommitted, as before epochs, and binds nothing.
        commit(nodeA, bytes32(0));
        assertEq(kms.masterSecretHash(), bytes32(0));
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, bytes32(0));
        assertEq(kms.masterSecretHashOf(1), bytes32(0));
    }

    /// @dev A hash committed for epoch i is refused for every other epoch j.
    function testFuzz_HashOfEarlierEpochRefused(bytes32 a, bytes32 b) public {
        vm.assume(a != bytes32(0) && b != bytes32(0) && a != b);
        commit(nodeA, a);
        rotate();
        expectCommitRevert(nodeA, a, KMSRegistry.HashOfEarlierEpoch.selector);
        commit(nodeA, b);
        assertEq(kms.masterSecretHashOf(0), a);
        assertEq(kms.masterSecretHashOf(1), b);
    }

    // ------------------------------------------------------------------ startRotation

    function test_StartRotation() public {
        commit(nodeA, HASH_0);
        vm.warp(deployedAt + 1 hours);
        vm.expectEmit(address(kms));
        emit RotationStarted(1, kmsOwner);
        vm.prank(kmsOwner);
        kms.startRotation();
        assertEq(kms.currentEpoch(), 1);
        assertEq(kms.epochStartedAt(1), deployedAt + 1 hours);
        assertEq(kms.epochStartedAt(0), deployedAt);
        assertFalse(kms.isEpochRetired(0));
        assertFalse(kms.isEpochRetired(1));
    }

    function test_RevertIf_StartRotationByNonOwner() public {
        commit(nodeA, HASH_0);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(stranger);
        kms.startRotation();
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(nodeA);
        kms.startRotation();
    }

    function test_RevertIf_StartRotationBeforeCommit() public {
        expectRotationRevert(KMSRegistry.EpochNotCommitted.selector);
        commit(nodeA, HASH_0);
        rotate();
        // The new epoch has a zero hash until a node commits it.
        expectRotationRevert(KMSRegistry.EpochNotCommitted.selector);
    }

    function test_RevertIf_ThreeLiveEpochs() public {
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, HASH_1);
        expectRotationRevert(KMSRegistry.PreviousEpochNotRetired.selector);
        retireAll(0);
        rotate();
        assertEq(kms.currentEpoch(), 2);
        commit(nodeA, HASH_2);
        expectRotationRevert(KMSRegistry.PreviousEpochNotRetired.selector);
    }

    // ------------------------------------------------------------------ reportEpochMigrated

    function test_ReportEpochMigrated() public {
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, HASH_1);
        vm.expectEmit(address(kms));
        emit EpochMigrationReported(1, nodeA);
        vm.prank(nodeA);
        kms.reportEpochMigrated(1);
        (bool reported, uint256 epoch) = kms.migratedEpochOf(nodeA);
        assertTrue(reported);
        assertEq(epoch, 1);
        (reported,) = kms.migratedEpochOf(nodeB);
        assertFalse(reported);
    }

    function test_ReportEpochMigratedIsIdempotent() public {
        commit(nodeA, HASH_0);
        vm.startPrank(nodeA);
        kms.reportEpochMigrated(0);
        vm.expectEmit(address(kms));
        emit EpochMigrationReported(0, nodeA);
        kms.reportEpochMigrated(0);
        vm.stopPrank();
        (bool reported, uint256 epoch) = kms.migratedEpochOf(nodeA);
        // Epoch 0 is reported, which is distinct from "never reported".
        assertTrue(reported);
        assertEq(epoch, 0);
    }

    function test_RevertIf_ReportByNonOperator() public {
        commit(nodeA, HASH_0);
        expectReportRevert(stranger, 0, KMSRegistry.NotOperator.selector);
        expectReportRevert(kmsOwner, 0, KMSRegistry.NotOperator.selector);
        // A STOPPED instance has left the operator set.
        registry.setInstanceStatus(instanceB, STOPPED);
        expectReportRevert(nodeB, 0, KMSRegistry.NotOperator.selector);
    }

    function test_RevertIf_ReportNotTheCurrentEpoch() public {
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, HASH_1);
        expectReportRevert(nodeA, 0, KMSRegistry.NotCurrentEpoch.selector);
        expectReportRevert(nodeA, 2, KMSRegistry.NotCurrentEpoch.selector);
        expectReportRevert(nodeA, type(uint256).max, KMSRegistry.NotCurrentEpoch.selector);
    }

    function test_RevertIf_ReportUncommittedEpoch() public {
        expectReportRevert(nodeA, 0, KMSRegistry.EpochNotCommitted.selector);
        commit(nodeA, HASH_0);
        rotate();
        expectReportRevert(nodeA, 1, KMSRegistry.EpochNotCommitted.selector);
    }

    // ------------------------------------------------------------------ retireEpoch

    function test_RetireEpochWhenAllReported() public {
        toEpochOne();
        report(nodeA, 1);
        report(nodeB, 1);
        vm.expectEmit(address(kms));
        emit EpochRetired(0, false);
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        assertTrue(kms.isEpochRetired(0));
        assertFalse(kms.isEpochRetired(1));
        // A retired epoch keeps its hash on record.
        assertEq(kms.masterSecretHashOf(0), HASH_0);
    }

    function test_RevertIf_RetireWithOneOperatorMissing() public {
        toEpochOne();
        report(nodeA, 1);
        vm.expectRevert(abi.encodeWithSelector(KMSRegistry.MigrationIncomplete.selector, nodeB));
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        assertFalse(kms.isEpochRetired(0));
    }

    function test_RevertIf_RetireWithAStaleReport() public {
        commit(nodeA, HASH_0);
        report(nodeA, 0);
        report(nodeB, 0);
        rotate();
        commit(nodeA, HASH_1);
        report(nodeB, 1);
        // nodeA reported epoch 0, not the current one.
        vm.expectRevert(abi.encodeWithSelector(KMSRegistry.MigrationIncomplete.selector, nodeA));
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
    }

    function test_RevertIf_RetireOnReportsMadeBeforeAResetAndAnotherCommit() public {
        toEpochOne();
        report(nodeA, 1);
        report(nodeB, 1);
        // The owner resets epoch 1 and another secret wins the re-commit: the reports were made
        // for a store under the old epoch-1 secret, which no node may hold any more.
        vm.prank(kmsOwner);
        kms.resetMasterSecretHash();
        commit(nodeB, keccak256("another epoch-1 secret"));
        vm.expectRevert(abi.encodeWithSelector(KMSRegistry.MigrationIncomplete.selector, nodeA));
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        report(nodeA, 1);
        report(nodeB, 1);
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        assertTrue(kms.isEpochRetired(0));
    }

    function test_RetireAfterTheMissingOperatorIsRemoved() public {
        toEpochOne();
        report(nodeA, 1);
        vm.expectRevert(abi.encodeWithSelector(KMSRegistry.MigrationIncomplete.selector, nodeB));
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        registry.setInstanceStatus(instanceB, FAILED);
        assertFalse(kms.isOperator(nodeB));
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        assertTrue(kms.isEpochRetired(0));
    }

    function test_RevertIf_RetireAfterANewOperatorJoins() public {
        toEpochOne();
        report(nodeA, 1);
        report(nodeB, 1);
        address late = makeAddr("late node");
        registerKmsNode(late);
        vm.expectRevert(abi.encodeWithSelector(KMSRegistry.MigrationIncomplete.selector, late));
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
    }

    function test_RevertIf_RetireByNonOwner() public {
        toEpochOne();
        report(nodeA, 1);
        report(nodeB, 1);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(nodeA);
        kms.retireEpoch(0);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(stranger);
        kms.forceRetireEpoch(0);
    }

    function test_RevertIf_RetireEpochNotRetirable() public {
        commit(nodeA, HASH_0);
        // Epoch 0 is current: there is no previous epoch.
        expectRetireRevert(0, abi.encodeWithSelector(KMSRegistry.EpochNotRetirable.selector));
        rotate();
        commit(nodeA, HASH_1);
        report(nodeA, 1);
        report(nodeB, 1);
        expectRetireRevert(1, abi.encodeWithSelector(KMSRegistry.EpochNotRetirable.selector));
        expectRetireRevert(2, abi.encodeWithSelector(KMSRegistry.EpochNotRetirable.selector));
        expectRetireRevert(type(uint256).max, abi.encodeWithSelector(KMSRegistry.EpochNotRetirable.selector));
        vm.warp(block.timestamp + GRACE);
        expectForceRevert(1, KMSRegistry.EpochNotRetirable.selector);
        expectForceRevert(type(uint256).max, KMSRegistry.EpochNotRetirable.selector);
    }

    function test_RevertIf_RetireEpochTwice() public {
        toEpochOne();
        report(nodeA, 1);
        report(nodeB, 1);
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        expectRetireRevert(0, abi.encodeWithSelector(KMSRegistry.EpochAlreadyRetired.selector));
        vm.warp(block.timestamp + GRACE);
        expectForceRevert(0, KMSRegistry.EpochAlreadyRetired.selector);
    }

    function test_RevertIf_RetireBeforeTheCurrentEpochIsCommitted() public {
        commit(nodeA, HASH_0);
        rotate();
        expectRetireRevert(0, abi.encodeWithSelector(KMSRegistry.EpochNotCommitted.selector));
        vm.warp(block.timestamp + GRACE);
        expectForceRevert(0, KMSRegistry.EpochNotCommitted.selector);
    }

    function test_RetireWithNoOperators() public {
        toEpochOne();
        // Every node left before reporting: nobody is left to wait for.
        registry.setInstanceStatus(instanceA, STOPPED);
        registry.setInstanceStatus(instanceB, STOPPED);
        assertEq(kms.operatorCount(), 0);
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        assertTrue(kms.isEpochRetired(0));
    }

    function test_SecondRotationNeedsReportsForTheNewEpoch() public {
        toEpochOne();
        report(nodeA, 1);
        report(nodeB, 1);
        vm.prank(kmsOwner);
        kms.retireEpoch(0);
        rotate();
        commit(nodeB, HASH_2);
        // Reports of epoch 1 do not retire epoch 1.
        vm.expectRevert(abi.encodeWithSelector(KMSRegistry.MigrationIncomplete.selector, nodeA));
        vm.prank(kmsOwner);
        kms.retireEpoch(1);
        report(nodeA, 2);
        report(nodeB, 2);
        vm.expectEmit(address(kms));
        emit EpochRetired(1, false);
        vm.prank(kmsOwner);
        kms.retireEpoch(1);
        assertTrue(kms.isEpochRetired(0));
        assertTrue(kms.isEpochRetired(1));
        assertFalse(kms.isEpochRetired(2));
    }

    // ------------------------------------------------------------------ forceRetireEpoch

    function test_ForceRetireBeforeAndAfterGrace() public {
        toEpochOne();
        uint256 startedAt = kms.epochStartedAt(1);
        vm.warp(startedAt + GRACE - 1);
        expectForceRevert(0, KMSRegistry.GracePeriodNotOver.selector);
        vm.warp(startedAt + GRACE);
        vm.expectEmit(address(kms));
        emit EpochRetired(0, true);
        vm.prank(kmsOwner);
        kms.forceRetireEpoch(0);
        assertTrue(kms.isEpochRetired(0));
        // No operator reported; the force does not pretend they did.
        (bool reported,) = kms.migratedEpochOf(nodeA);
        assertFalse(reported);
    }

    function test_ForceRetireCountsFromTheCurrentEpochsStart() public {
        // Time spent in epoch 0 does not count toward epoch 1's grace.
        commit(nodeA, HASH_0);
        vm.warp(deployedAt + 30 days);
        rotate();
        commit(nodeA, HASH_1);
        expectForceRevert(0, KMSRegistry.GracePeriodNotOver.selector);
    }

    /// @dev forceRetireEpoch succeeds iff `elapsed` ≥ RETIRE_GRACE_SECONDS.
    function testFuzz_ForceRetireIffGraceOver(uint32 elapsed) public {
        toEpochOne();
        vm.warp(kms.epochStartedAt(1) + elapsed);
        if (elapsed < GRACE) {
            expectForceRevert(0, KMSRegistry.GracePeriodNotOver.selector);
        } else {
            vm.prank(kmsOwner);
            kms.forceRetireEpoch(0);
            assertTrue(kms.isEpochRetired(0));
        }
    }

    // ------------------------------------------------------------------ per-app key epochs

    function test_SetAppKeyEpoch() public {
        vm.expectEmit(address(kms));
        emit AppKeyEpochSet(APP_ID, 1, appOwner);
        vm.prank(appOwner);
        kms.setAppKeyEpoch(APP_ID, 1);
        assertEq(kms.appKeyEpoch(APP_ID), 1);
        // Epochs may skip ahead; other apps are untouched.
        vm.prank(appOwner);
        kms.setAppKeyEpoch(APP_ID, 5);
        assertEq(kms.appKeyEpoch(APP_ID), 5);
        assertEq(kms.appKeyEpoch(KMS_APP_ID), 0);
        // The cluster epoch is independent.
        assertEq(kms.currentEpoch(), 0);
    }

    function test_SetAppKeyEpochUpToTheBound() public {
        vm.prank(appOwner);
        kms.setAppKeyEpoch(APP_ID, type(uint32).max);
        assertEq(kms.appKeyEpoch(APP_ID), type(uint32).max);
    }

    function test_RevertIf_SetAppKeyEpochByNonOwner() public {
        expectAppEpochRevert(stranger, APP_ID, 1, KMSRegistry.NotAppOwner.selector);
        // The KMS owner owns the KMS app, not this one.
        expectAppEpochRevert(kmsOwner, APP_ID, 1, KMSRegistry.NotAppOwner.selector);
        // And the registry's own owner is not the app's owner either.
        expectAppEpochRevert(address(this), APP_ID, 1, KMSRegistry.NotAppOwner.selector);
        assertEq(kms.appKeyEpoch(APP_ID), 0);
    }

    function test_RevertIf_SetAppKeyEpochOfUnknownApp() public {
        // NovaAppRegistry's getApp reverts for an unknown app; that reads as "not the owner".
        expectAppEpochRevert(appOwner, 999, 1, KMSRegistry.NotAppOwner.selector);
        expectAppEpochRevert(appOwner, 0, 1, KMSRegistry.NotAppOwner.selector);
    }

    function test_RevertIf_SetAppKeyEpochWhenRegistryReverts() public {
        vm.mockCallRevert(address(registry), abi.encodeCall(INovaAppRegistry.getApp, (APP_ID)), bytes("registry down"));
        expectAppEpochRevert(appOwner, APP_ID, 1, KMSRegistry.NotAppOwner.selector);
    }

    function test_RevertIf_SetAppKeyEpochOfOwnerlessApp() public {
        registry.createApp(OTHER_APP_ID, address(0), address(0), TEE_ARCH, "", address(0));
        expectAppEpochRevert(address(0), OTHER_APP_ID, 1, KMSRegistry.NotAppOwner.selector);
    }

    function test_RevertIf_AppKeyEpochNotIncreasing() public {
        expectAppEpochRevert(appOwner, APP_ID, 0, KMSRegistry.InvalidAppKeyEpoch.selector);
        vm.prank(appOwner);
        kms.setAppKeyEpoch(APP_ID, 3);
        expectAppEpochRevert(appOwner, APP_ID, 3, KMSRegistry.InvalidAppKeyEpoch.selector);
        expectAppEpochRevert(appOwner, APP_ID, 2, KMSRegistry.InvalidAppKeyEpoch.selector);
        assertEq(kms.appKeyEpoch(APP_ID), 3);
    }

    function test_RevertIf_AppKeyEpochAboveTheBound() public {
        expectAppEpochRevert(appOwner, APP_ID, uint256(type(uint32).max) + 1, KMSRegistry.InvalidAppKeyEpoch.selector);
        expectAppEpochRevert(appOwner, APP_ID, type(uint256).max, KMSRegistry.InvalidAppKeyEpoch.selector);
    }

    /// @dev A new epoch is accepted iff current < epoch ≤ 2^32 − 1.
    function testFuzz_AppKeyEpochOnlyGrows(uint32 first, uint256 second) public {
        vm.assume(first > 0);
        vm.prank(appOwner);
        kms.setAppKeyEpoch(APP_ID, first);
        if (second <= first || second > type(uint32).max) {
            expectAppEpochRevert(appOwner, APP_ID, second, KMSRegistry.InvalidAppKeyEpoch.selector);
            assertEq(kms.appKeyEpoch(APP_ID), first);
        } else {
            vm.prank(appOwner);
            kms.setAppKeyEpoch(APP_ID, second);
            assertEq(kms.appKeyEpoch(APP_ID), second);
        }
    }

    // ------------------------------------------------------------------ recovery policy per epoch

    function test_FirstBackupBindsThePolicyToTheCurrentEpoch() public {
        setPolicy(0, 3, 2);
        commit(nodeA, HASH_0);
        publish(nodeA, HASH_0, 3);
        (bool bound, uint256 epoch) = kms.recoveryPolicyEpoch(1);
        assertTrue(bound);
        assertEq(epoch, 0);
    }

    function test_RevertIf_PolicyBoundToAnotherEpoch() public {
        setPolicy(0, 3, 2);
        commit(nodeA, HASH_0);
        publish(nodeA, HASH_0, 3);
        rotate();
        commit(nodeA, HASH_1);
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3);
        vm.expectRevert(KMSRegistry.PolicyBoundToAnotherEpoch.selector);
        vm.prank(nodeB);
        kms.publishBackup(HASH_1, sealedShares, commitments);
        // The old epoch's hash is no longer the current one.
        vm.expectRevert(KMSRegistry.SecretHashMismatch.selector);
        vm.prank(nodeB);
        kms.publishBackup(HASH_0, sealedShares, commitments);
        assertFalse(kms.hasBackup(HASH_1, 1));

        // A new policy (fresh custodian keys) takes the new epoch's backup.
        uint256 proposalId = proposePolicy(10, 2, 1);
        vm.prank(approver(0));
        kms.approveRecoveryPolicy(proposalId);
        vm.prank(approver(1));
        kms.approveRecoveryPolicy(proposalId);
        assertEq(kms.recoveryPolicyId(), 2);
        vm.expectEmit(address(kms));
        emit BackupPublished(HASH_1, 2, nodeB);
        publish(nodeB, HASH_1, 2);
        (bool bound, uint256 epoch) = kms.recoveryPolicyEpoch(2);
        assertTrue(bound);
        assertEq(epoch, 1);
        (, epoch) = kms.recoveryPolicyEpoch(1);
        assertEq(epoch, 0);
    }

    function test_UnusedPolicyBindsToTheEpochOfItsFirstBackup() public {
        // Active since epoch 0 but never used there: it serves epoch 1.
        setPolicy(0, 3, 2);
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, HASH_1);
        publish(nodeA, HASH_1, 3);
        (bool bound, uint256 epoch) = kms.recoveryPolicyEpoch(1);
        assertTrue(bound);
        assertEq(epoch, 1);
    }

    function test_BoundPolicyTakesAnotherHashOfTheSameEpoch() public {
        // An owner reset within the epoch: the policy still serves this epoch.
        setPolicy(0, 3, 2);
        commit(nodeA, HASH_0);
        publish(nodeA, HASH_0, 3);
        vm.prank(kmsOwner);
        kms.resetMasterSecretHash();
        commit(nodeA, HASH_1);
        publish(nodeA, HASH_1, 3);
        assertTrue(kms.hasBackup(HASH_0, 1));
        assertTrue(kms.hasBackup(HASH_1, 1));
    }

    // ------------------------------------------------------------------ property

    /// @dev Up to 48 random owner and node steps (commit a fresh hash, rotate, report, retire,
    /// force after the grace). After each: at most two live epochs, every epoch below
    /// current − 1 retired, and the current epoch never retired.
    function testFuzz_AtMostTwoLiveEpochs(uint256[] calldata steps) public {
        uint256 length = steps.length > 48 ? 48 : steps.length;
        uint256 fresh;
        for (uint256 i; i < length; ++i) {
            uint256 action = steps[i] % 5;
            uint256 current = kms.currentEpoch();
            vm.startPrank(action == 0 || action == 2 ? nodeA : kmsOwner);
            if (action == 0) {
                try kms.setMasterSecretHash(keccak256(abi.encode("fresh", ++fresh))) {} catch {}
            } else if (action == 1) {
                try kms.startRotation() {} catch {}
            } else if (action == 2) {
                try kms.reportEpochMigrated(current) {} catch {}
                vm.stopPrank();
                vm.prank(nodeB);
                try kms.reportEpochMigrated(current) {} catch {}
                vm.startPrank(kmsOwner);
            } else if (action == 3) {
                try kms.retireEpoch(current == 0 ? 0 : current - 1) {} catch {}
            } else {
                vm.warp(block.timestamp + GRACE);
                try kms.forceRetireEpoch(current == 0 ? 0 : current - 1) {} catch {}
            }
            vm.stopPrank();
            assertEpochInvariants();
        }
    }

    function assertEpochInvariants() internal view {
        uint256 current = kms.currentEpoch();
        assertFalse(kms.isEpochRetired(current));
        uint256 live;
        for (uint256 e; e <= current; ++e) {
            if (!kms.isEpochRetired(e)) ++live;
            if (e + 1 < current) assertTrue(kms.isEpochRetired(e));
            // Every epoch before the current one was committed when it was rotated away.
            if (e < current) assertTrue(kms.masterSecretHashOf(e) != bytes32(0));
        }
        assertLe(live, 2);
    }

    // ------------------------------------------------------------------ helpers

    function commit(address node, bytes32 hash) internal {
        vm.prank(node);
        kms.setMasterSecretHash(hash);
    }

    function expectCommitRevert(address node, bytes32 hash, bytes4 selector) internal {
        vm.expectRevert(selector);
        vm.prank(node);
        kms.setMasterSecretHash(hash);
    }

    function rotate() internal {
        vm.prank(kmsOwner);
        kms.startRotation();
    }

    function expectRotationRevert(bytes4 selector) internal {
        vm.expectRevert(selector);
        vm.prank(kmsOwner);
        kms.startRotation();
    }

    function report(address node, uint256 epoch) internal {
        vm.prank(node);
        kms.reportEpochMigrated(epoch);
    }

    function expectReportRevert(address node, uint256 epoch, bytes4 selector) internal {
        vm.expectRevert(selector);
        vm.prank(node);
        kms.reportEpochMigrated(epoch);
    }

    function expectRetireRevert(uint256 epoch, bytes memory revertData) internal {
        vm.expectRevert(revertData);
        vm.prank(kmsOwner);
        kms.retireEpoch(epoch);
    }

    function expectForceRevert(uint256 epoch, bytes4 selector) internal {
        vm.expectRevert(selector);
        vm.prank(kmsOwner);
        kms.forceRetireEpoch(epoch);
    }

    function expectAppEpochRevert(address sender, uint256 appId, uint256 epoch, bytes4 selector) internal {
        vm.expectRevert(selector);
        vm.prank(sender);
        kms.setAppKeyEpoch(appId, epoch);
    }

    /// @dev Epoch 0 committed as HASH_0, rotated to epoch 1 committed as HASH_1.
    function toEpochOne() internal {
        commit(nodeA, HASH_0);
        rotate();
        commit(nodeA, HASH_1);
    }

    /// @dev Both nodes report the current epoch, then the owner retires `epoch`.
    function retireAll(uint256 epoch) internal {
        uint256 current = kms.currentEpoch();
        report(nodeA, current);
        report(nodeB, current);
        vm.prank(kmsOwner);
        kms.retireEpoch(epoch);
    }

    function key(uint256 seed) internal pure returns (bytes memory) {
        return abi.encodePacked(
            PREFIX, keccak256(abi.encode(seed, 0)), keccak256(abi.encode(seed, 1)), keccak256(abi.encode(seed, 2))
        );
    }

    function approver(uint256 seed) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("approver", seed)))));
    }

    function custodians(uint256 first, uint256 count)
        internal
        pure
        returns (KMSRegistry.RecoveryCustodian[] memory list)
    {
        list = new KMSRegistry.RecoveryCustodian[](count);
        for (uint256 i = 0; i < count; ++i) {
            list[i] = KMSRegistry.RecoveryCustodian({sealingKey: key(first + i), approver: approver(first + i)});
        }
    }

    function setPolicy(uint256 first, uint256 count, uint8 threshold) internal {
        vm.prank(kmsOwner);
        kms.setInitialRecoveryPolicy(custodians(first, count), threshold);
    }

    function proposePolicy(uint256 first, uint256 count, uint8 threshold) internal returns (uint256 id) {
        vm.prank(kmsOwner);
        id = kms.proposeRecoveryPolicy(custodians(first, count), threshold);
    }

    function shares(uint256 count) internal pure returns (bytes[] memory sealedShares, bytes32[] memory commitments) {
        sealedShares = new bytes[](count);
        commitments = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            sealedShares[i] = abi.encode("share", i);
            commitments[i] = keccak256(abi.encode("commitment", i));
        }
    }

    function publish(address node, bytes32 hash, uint256 count) internal {
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(count);
        vm.prank(node);
        kms.publishBackup(hash, sealedShares, commitments);
    }
}
