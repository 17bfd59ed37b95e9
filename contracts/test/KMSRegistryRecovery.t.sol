// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {KMSRegistry} from "../src/KMSRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice Issue 15: the recovery policy (owner sets the first; later ones by a threshold of
/// the current custodians' approvals or a vetoable timelock) and publishBackup.
contract KMSRegistryRecoveryTest is RegistryFixture {
    bytes24 internal constant PREFIX = 0x3076301006072a8648ce3d020106052b8104002203620004;
    bytes32 internal constant HASH = keccak256("master secret");
    uint8 internal constant INITIAL = 0;
    uint8 internal constant APPROVED = 1;
    uint8 internal constant TIMELOCK = 2;

    address internal node = makeAddr("node");

    event RecoveryPolicyProposed(uint256 indexed proposalId, uint256 indexed basePolicyId, uint64 executableAt);
    event RecoveryPolicyApproved(uint256 indexed proposalId, address indexed approver, uint256 approvals);
    event RecoveryPolicyVetoed(uint256 indexed proposalId, address indexed approver, uint256 vetoes);
    event RecoveryPolicyProposalRejected(uint256 indexed proposalId);
    event RecoveryPolicyProposalCancelled(uint256 indexed proposalId);
    event RecoveryPolicyActivated(
        uint256 indexed policyId, uint256 indexed proposalId, uint8 threshold, uint256 custodianCount, uint8 how
    );
    event BackupPublished(bytes32 indexed secretHash, uint256 indexed policyId, address indexed publisher);

    // ------------------------------------------------------------------ helpers

    function key(uint256 seed) internal pure returns (bytes memory) {
        return abi.encodePacked(
            PREFIX, keccak256(abi.encode(seed, 0)), keccak256(abi.encode(seed, 1)), keccak256(abi.encode(seed, 2))
        );
    }

    function approver(uint256 seed) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("approver", seed)))));
    }

    /// @dev `count` custodians numbered from `first`.
    function custodians(uint256 first, uint256 count) internal pure returns (KMSRegistry.RecoveryCustodian[] memory list) {
        list = new KMSRegistry.RecoveryCustodian[](count);
        for (uint256 i = 0; i < count; ++i) {
            list[i] = KMSRegistry.RecoveryCustodian({sealingKey: key(first + i), approver: approver(first + i)});
        }
    }

    function setInitial(uint256 count, uint8 threshold) internal {
        vm.prank(kmsOwner);
        kms.setInitialRecoveryPolicy(custodians(0, count), threshold);
    }

    function propose(uint256 first, uint256 count, uint8 threshold) internal returns (uint256 id) {
        vm.prank(kmsOwner);
        id = kms.proposeRecoveryPolicy(custodians(first, count), threshold);
    }

    function authorizedNode() internal {
        registerKmsNode(node);
        vm.prank(node);
        kms.setMasterSecretHash(HASH);
    }

    function shares(uint256 count, uint256 length) internal pure returns (bytes[] memory sealedShares, bytes32[] memory commitments) {
        sealedShares = new bytes[](count);
        commitments = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            sealedShares[i] = new bytes(length);
            sealedShares[i][0] = bytes1(uint8(i + 1));
            commitments[i] = keccak256(abi.encode("share", i));
        }
    }

    // ------------------------------------------------------------------ ABI pins

    function test_FunctionSelectorsMatchProtocol() public view {
        assertEq(kms.POLICY_TIMELOCK_SECONDS.selector, bytes4(0x5941af41));
        assertEq(kms.MAX_CUSTODIANS.selector, bytes4(0x3462dd03));
        assertEq(kms.MAX_SEALED_SHARE_BYTES.selector, bytes4(0x3ff35876));
        assertEq(kms.SEALING_KEY_BYTES.selector, bytes4(0x9526ce39));
        assertEq(kms.recoveryPolicyId.selector, bytes4(0x52ccb5f4));
        assertEq(kms.proposalCount.selector, bytes4(0xda35c664));
        assertEq(kms.pendingProposalId.selector, bytes4(0xb19ebd2e));
        assertEq(KMSRegistry.getRecoveryPolicy.selector, bytes4(0xaff730f6));
        assertEq(KMSRegistry.setInitialRecoveryPolicy.selector, bytes4(0xf7c99604));
        assertEq(KMSRegistry.proposeRecoveryPolicy.selector, bytes4(0x7989e785));
        assertEq(KMSRegistry.approveRecoveryPolicy.selector, bytes4(0x6cb92ade));
        assertEq(KMSRegistry.vetoRecoveryPolicy.selector, bytes4(0x762a2718));
        assertEq(KMSRegistry.activateRecoveryPolicy.selector, bytes4(0x3f0d2c02));
        assertEq(KMSRegistry.cancelRecoveryPolicyProposal.selector, bytes4(0x3243056b));
        assertEq(KMSRegistry.getPolicyProposal.selector, bytes4(0x7a4608a6));
        assertEq(KMSRegistry.hasVoted.selector, bytes4(0x43859632));
        assertEq(KMSRegistry.publishBackup.selector, bytes4(0x1fa20485));
        assertEq(KMSRegistry.hasBackup.selector, bytes4(0x506d0995));
        assertEq(KMSRegistry.getBackup.selector, bytes4(0xdd726843));
        assertEq(KMSRegistry.getSealedShare.selector, bytes4(0x1a34fb38));
    }

    function test_ErrorSelectorsMatchProtocol() public pure {
        assertEq(KMSRegistry.InvalidTimelock.selector, bytes4(0xf8d10e82));
        assertEq(KMSRegistry.InvalidRecoveryPolicy.selector, bytes4(0xc455a034));
        assertEq(KMSRegistry.InvalidSealingKey.selector, bytes4(0xe0193ea7));
        assertEq(KMSRegistry.DuplicateCustodian.selector, bytes4(0x691db915));
        assertEq(KMSRegistry.RecoveryPolicyAlreadySet.selector, bytes4(0x7090de70));
        assertEq(KMSRegistry.NoRecoveryPolicy.selector, bytes4(0xf7cb8c82));
        assertEq(KMSRegistry.ProposalPending.selector, bytes4(0xb06a8bf2));
        assertEq(KMSRegistry.NoSuchProposal.selector, bytes4(0x2e7979a8));
        assertEq(KMSRegistry.ProposalNotPending.selector, bytes4(0x49e7376a));
        assertEq(KMSRegistry.NotCustodian.selector, bytes4(0x918cb1dd));
        assertEq(KMSRegistry.AlreadyVoted.selector, bytes4(0x7c9a1cf9));
        assertEq(KMSRegistry.StaleProposal.selector, bytes4(0x3deebf09));
        assertEq(KMSRegistry.TimelockNotExpired.selector, bytes4(0x621e25c3));
        assertEq(KMSRegistry.SecretHashMismatch.selector, bytes4(0x19e1e039));
        assertEq(KMSRegistry.ShareCountMismatch.selector, bytes4(0xb4f65571));
        assertEq(KMSRegistry.InvalidSealedShare.selector, bytes4(0xde7378b1));
        assertEq(KMSRegistry.InvalidShareCommitment.selector, bytes4(0x82132730));
        assertEq(KMSRegistry.BackupAlreadyPublished.selector, bytes4(0x2239edf8));
        assertEq(KMSRegistry.NoBackup.selector, bytes4(0x784874eb));
        assertEq(KMSRegistry.ShareIndexOutOfRange.selector, bytes4(0x1ebe463c));
    }

    function test_EventTopicsMatchProtocol() public pure {
        assertEq(RecoveryPolicyProposed.selector, 0xa0f085a4d704c388c2c0a8d8b927863ed7ab44cc04dec17ff1c998aa6607c522);
        assertEq(RecoveryPolicyApproved.selector, 0x7d9fa7e1c3094556a38ce38b178299dae4248f5ab0239c4744424d02dbd7ebe5);
        assertEq(RecoveryPolicyVetoed.selector, 0xdf043509b2690f7caa3686d7b015608de0c9f0e635eb3d3925c1024ac979bb5c);
        assertEq(
            RecoveryPolicyProposalRejected.selector, 0xc84ce004195bc030ec66162f27ef141b4c4ecc4b93eac0c2f3c70f924732c797
        );
        assertEq(
            RecoveryPolicyProposalCancelled.selector, 0x87597a23fb41860b2a405af5b91a25b937ed7bf9b28b3f23a5c7895839f4e90e
        );
        assertEq(RecoveryPolicyActivated.selector, 0x40deec9cf4b1cd9fd88fdb8682a7b9ddf228967c856ccf284bb93777efecdd1a);
        assertEq(BackupPublished.selector, 0x2011071ab97f252f3ec4e3d3ff03b0fa2f6351e4f144618fa2dba5757ecbd2d5);
        // The contract's own events are the ones declared here.
        assertEq(KMSRegistry.BackupPublished.selector, BackupPublished.selector);
        assertEq(KMSRegistry.RecoveryPolicyActivated.selector, RecoveryPolicyActivated.selector);
    }

    // ------------------------------------------------------------------ constructor

    function test_TimelockIsImmutable() public view {
        assertEq(kms.POLICY_TIMELOCK_SECONDS(), 7 days);
        assertEq(kms.recoveryPolicyId(), 0);
    }

    function test_RevertIf_ConstructedWithZeroTimelock() public {
        vm.expectRevert(KMSRegistry.InvalidTimelock.selector);
        new KMSRegistry(kmsOwner, address(registry), 0, 7 days);
        vm.expectRevert(KMSRegistry.InvalidTimelock.selector);
        new KMSRegistry(kmsOwner, address(registry), uint256(type(uint32).max) + 1, 7 days);
        assertEq(new KMSRegistry(kmsOwner, address(registry), type(uint32).max, 7 days).POLICY_TIMELOCK_SECONDS(), type(uint32).max);
    }

    // ------------------------------------------------------------------ initial policy

    function test_SetInitialRecoveryPolicy() public {
        vm.expectEmit(address(kms));
        emit RecoveryPolicyActivated(1, 0, 2, 3, INITIAL);
        setInitial(3, 2);
        assertEq(kms.recoveryPolicyId(), 1);
        (uint8 threshold, KMSRegistry.RecoveryCustodian[] memory list) = kms.getRecoveryPolicy(1);
        assertEq(threshold, 2);
        assertEq(list.length, 3);
        for (uint256 i = 0; i < 3; ++i) {
            assertEq(list[i].sealingKey, key(i));
            assertEq(list[i].approver, approver(i));
        }
    }

    function test_RevertIf_SetInitialByNonOwner() public {
        KMSRegistry.RecoveryCustodian[] memory list = custodians(0, 3);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(stranger);
        kms.setInitialRecoveryPolicy(list, 2);
    }

    function test_RevertIf_SetInitialTwice() public {
        setInitial(3, 2);
        KMSRegistry.RecoveryCustodian[] memory list = custodians(5, 3);
        vm.expectRevert(KMSRegistry.RecoveryPolicyAlreadySet.selector);
        vm.prank(kmsOwner);
        kms.setInitialRecoveryPolicy(list, 2);
    }

    function test_RevertIf_GetUnknownPolicy() public {
        vm.expectRevert(KMSRegistry.NoRecoveryPolicy.selector);
        kms.getRecoveryPolicy(0);
        setInitial(3, 2);
        vm.expectRevert(KMSRegistry.NoRecoveryPolicy.selector);
        kms.getRecoveryPolicy(2);
    }

    function expectInvalid(KMSRegistry.RecoveryCustodian[] memory list, uint8 threshold, bytes4 selector) internal {
        vm.expectRevert(selector);
        vm.prank(kmsOwner);
        kms.setInitialRecoveryPolicy(list, threshold);
    }

    function test_RevertIf_ThresholdOutOfRange() public {
        expectInvalid(custodians(0, 3), 0, KMSRegistry.InvalidRecoveryPolicy.selector);
        expectInvalid(custodians(0, 3), 4, KMSRegistry.InvalidRecoveryPolicy.selector);
        expectInvalid(custodians(0, 0), 0, KMSRegistry.InvalidRecoveryPolicy.selector);
        expectInvalid(custodians(0, 17), 2, KMSRegistry.InvalidRecoveryPolicy.selector);
    }

    function test_RevertIf_BadSealingKey() public {
        KMSRegistry.RecoveryCustodian[] memory list = custodians(0, 2);
        list[1].sealingKey = abi.encodePacked(key(1), bytes1(0)); // 121 bytes
        expectInvalid(list, 1, KMSRegistry.InvalidSealingKey.selector);
        list[1].sealingKey = new bytes(120); // right length, not a P-384 SPKI prefix
        expectInvalid(list, 1, KMSRegistry.InvalidSealingKey.selector);
    }

    function test_RevertIf_ZeroApprover() public {
        KMSRegistry.RecoveryCustodian[] memory list = custodians(0, 2);
        list[0].approver = address(0);
        expectInvalid(list, 1, KMSRegistry.ZeroAddress.selector);
    }

    function test_RevertIf_DuplicateApproverOrKey() public {
        KMSRegistry.RecoveryCustodian[] memory list = custodians(0, 3);
        list[2].approver = list[0].approver;
        expectInvalid(list, 2, KMSRegistry.DuplicateCustodian.selector);
        list = custodians(0, 3);
        list[2].sealingKey = list[1].sealingKey;
        expectInvalid(list, 2, KMSRegistry.DuplicateCustodian.selector);
    }

    // ------------------------------------------------------------------ later policies

    function test_RevertIf_ProposeWithoutPolicy() public {
        KMSRegistry.RecoveryCustodian[] memory list = custodians(0, 3);
        vm.expectRevert(KMSRegistry.NoRecoveryPolicy.selector);
        vm.prank(kmsOwner);
        kms.proposeRecoveryPolicy(list, 2);
    }

    function test_RevertIf_ProposeByNonOwner() public {
        setInitial(3, 2);
        KMSRegistry.RecoveryCustodian[] memory list = custodians(10, 3);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(approver(0));
        kms.proposeRecoveryPolicy(list, 2);
    }

    function test_RevertIf_ProposeWhilePending() public {
        setInitial(3, 2);
        propose(10, 3, 2);
        KMSRegistry.RecoveryCustodian[] memory list = custodians(20, 3);
        vm.expectRevert(KMSRegistry.ProposalPending.selector);
        vm.prank(kmsOwner);
        kms.proposeRecoveryPolicy(list, 2);
    }

    function test_ProposeRecordsTheProposal() public {
        setInitial(3, 2);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyProposed(1, 1, uint64(block.timestamp + 7 days));
        uint256 id = propose(10, 4, 3);
        assertEq(id, 1);
        assertEq(kms.pendingProposalId(), 1);
        (
            uint256 base,
            uint8 threshold,
            KMSRegistry.RecoveryCustodian[] memory list,
            uint64 executableAt,
            uint16 approvals,
            uint16 vetoes,
            KMSRegistry.ProposalState state
        ) = kms.getPolicyProposal(id);
        assertEq(base, 1);
        assertEq(threshold, 3);
        assertEq(list.length, 4);
        assertEq(list[3].sealingKey, key(13));
        assertEq(executableAt, block.timestamp + 7 days);
        assertEq(approvals, 0);
        assertEq(vetoes, 0);
        assertEq(uint8(state), uint8(KMSRegistry.ProposalState.Pending));
        // The owner alone changed nothing.
        assertEq(kms.recoveryPolicyId(), 1);
    }

    function test_ApprovalPathActivatesAtThreshold() public {
        setInitial(3, 2);
        uint256 id = propose(10, 2, 1);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyApproved(id, approver(0), 1);
        vm.prank(approver(0));
        kms.approveRecoveryPolicy(id);
        assertEq(kms.recoveryPolicyId(), 1);
        assertTrue(kms.hasVoted(id, approver(0)));
        assertFalse(kms.hasVoted(id, approver(1)));

        vm.expectEmit(address(kms));
        emit RecoveryPolicyApproved(id, approver(2), 2);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyActivated(2, id, 1, 2, APPROVED);
        vm.prank(approver(2));
        kms.approveRecoveryPolicy(id);
        assertEq(kms.recoveryPolicyId(), 2);
        assertEq(kms.pendingProposalId(), 0);
        (uint8 threshold, KMSRegistry.RecoveryCustodian[] memory list) = kms.getRecoveryPolicy(2);
        assertEq(threshold, 1);
        assertEq(list[0].approver, approver(10));
        // The old policy stays readable.
        (threshold,) = kms.getRecoveryPolicy(1);
        assertEq(threshold, 2);
    }

    function test_TimelockPath() public {
        setInitial(3, 2);
        uint256 id = propose(10, 3, 2);
        vm.expectRevert(KMSRegistry.TimelockNotExpired.selector);
        kms.activateRecoveryPolicy(id);
        vm.warp(block.timestamp + 7 days - 1);
        vm.expectRevert(KMSRegistry.TimelockNotExpired.selector);
        kms.activateRecoveryPolicy(id);
        vm.warp(block.timestamp + 1);
        // One veto (below the threshold of 2) does not stop it.
        vm.prank(approver(1));
        kms.vetoRecoveryPolicy(id);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyActivated(2, id, 2, 3, TIMELOCK);
        vm.prank(stranger); // anyone
        kms.activateRecoveryPolicy(id);
        assertEq(kms.recoveryPolicyId(), 2);
        vm.expectRevert(KMSRegistry.ProposalNotPending.selector);
        kms.activateRecoveryPolicy(id);
    }

    function test_VetoAtThresholdKillsTheProposal() public {
        setInitial(3, 2);
        uint256 id = propose(10, 3, 2);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyVetoed(id, approver(0), 1);
        vm.prank(approver(0));
        kms.vetoRecoveryPolicy(id);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyVetoed(id, approver(1), 2);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyProposalRejected(id);
        vm.prank(approver(1));
        kms.vetoRecoveryPolicy(id);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(KMSRegistry.ProposalNotPending.selector);
        kms.activateRecoveryPolicy(id);
        vm.expectRevert(KMSRegistry.ProposalNotPending.selector);
        vm.prank(approver(2));
        kms.approveRecoveryPolicy(id);
        (,,,,,, KMSRegistry.ProposalState state) = kms.getPolicyProposal(id);
        assertEq(uint8(state), uint8(KMSRegistry.ProposalState.Vetoed));
        // A new proposal may follow.
        assertEq(propose(20, 3, 2), 2);
    }

    function test_RevertIf_VoterIsNotACurrentCustodian() public {
        setInitial(3, 2);
        uint256 id = propose(10, 3, 2);
        // A custodian of the *proposed* policy has no vote on it.
        vm.expectRevert(KMSRegistry.NotCustodian.selector);
        vm.prank(approver(10));
        kms.approveRecoveryPolicy(id);
        vm.expectRevert(KMSRegistry.NotCustodian.selector);
        vm.prank(kmsOwner);
        kms.vetoRecoveryPolicy(id);
    }

    function test_RevertIf_VotingTwice() public {
        setInitial(3, 3);
        uint256 id = propose(10, 3, 2);
        vm.prank(approver(0));
        kms.approveRecoveryPolicy(id);
        vm.expectRevert(KMSRegistry.AlreadyVoted.selector);
        vm.prank(approver(0));
        kms.approveRecoveryPolicy(id);
        vm.expectRevert(KMSRegistry.AlreadyVoted.selector);
        vm.prank(approver(0));
        kms.vetoRecoveryPolicy(id);
    }

    function test_RevertIf_UnknownProposal() public {
        setInitial(3, 2);
        vm.expectRevert(KMSRegistry.NoSuchProposal.selector);
        kms.getPolicyProposal(1);
        vm.expectRevert(KMSRegistry.NoSuchProposal.selector);
        kms.activateRecoveryPolicy(1);
        vm.expectRevert(KMSRegistry.NoSuchProposal.selector);
        vm.prank(approver(0));
        kms.approveRecoveryPolicy(1);
        vm.expectRevert(KMSRegistry.NoSuchProposal.selector);
        vm.prank(kmsOwner);
        kms.cancelRecoveryPolicyProposal(1);
    }

    function test_Cancel() public {
        setInitial(3, 2);
        uint256 id = propose(10, 3, 2);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        vm.prank(approver(0));
        kms.cancelRecoveryPolicyProposal(id);
        vm.expectEmit(address(kms));
        emit RecoveryPolicyProposalCancelled(id);
        vm.prank(kmsOwner);
        kms.cancelRecoveryPolicyProposal(id);
        assertEq(kms.pendingProposalId(), 0);
        vm.warp(block.timestamp + 8 days);
        vm.expectRevert(KMSRegistry.ProposalNotPending.selector);
        kms.activateRecoveryPolicy(id);
        vm.expectRevert(KMSRegistry.ProposalNotPending.selector);
        vm.prank(kmsOwner);
        kms.cancelRecoveryPolicyProposal(id);
    }

    /// @dev With one pending proposal at a time a stale one needs a proposal that outlived a
    /// policy change; storage is set directly to reach that state and prove the guard.
    function test_RevertIf_ProposalIsStale() public {
        setInitial(3, 2);
        uint256 id = propose(10, 3, 2);
        vm.warp(block.timestamp + 7 days);
        // recoveryPolicyId lives in storage; pretend another policy became active meanwhile.
        bytes32 slot = bytes32(uint256(_recoveryPolicyIdSlot()));
        vm.store(address(kms), slot, bytes32(uint256(2)));
        assertEq(kms.recoveryPolicyId(), 2);
        vm.expectRevert(KMSRegistry.StaleProposal.selector);
        kms.activateRecoveryPolicy(id);
        vm.expectRevert(KMSRegistry.StaleProposal.selector);
        vm.prank(approver(0));
        kms.approveRecoveryPolicy(id);
        vm.expectRevert(KMSRegistry.StaleProposal.selector);
        vm.prank(approver(0));
        kms.vetoRecoveryPolicy(id);
    }

    function _recoveryPolicyIdSlot() internal returns (uint256 slot) {
        // Found by probing: the slot whose value is the policy id and changes with it.
        for (slot = 0; slot < 32; ++slot) {
            if (uint256(vm.load(address(kms), bytes32(slot))) == kms.recoveryPolicyId()) {
                bytes32 saved = vm.load(address(kms), bytes32(slot));
                vm.store(address(kms), bytes32(slot), bytes32(uint256(77)));
                bool hit = kms.recoveryPolicyId() == 77;
                vm.store(address(kms), bytes32(slot), saved);
                if (hit) return slot;
            }
        }
        revert("slot not found");
    }

    // ------------------------------------------------------------------ backup

    function test_PublishBackupAndReadShares() public {
        setInitial(3, 2);
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 1024);
        assertFalse(kms.hasBackup(HASH, 1));
        vm.expectEmit(address(kms));
        emit BackupPublished(HASH, 1, node);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
        assertTrue(kms.hasBackup(HASH, 1));
        (address publisher, uint64 publishedAt, bytes32[] memory stored) = kms.getBackup(HASH, 1);
        assertEq(publisher, node);
        assertEq(publishedAt, block.timestamp);
        assertEq(stored, commitments);
        for (uint256 i = 0; i < 3; ++i) {
            (bytes memory share, bytes32 commitment) = kms.getSealedShare(HASH, 1, i);
            assertEq(share, sealedShares[i]);
            assertEq(commitment, commitments[i]);
        }
        vm.expectRevert(KMSRegistry.ShareIndexOutOfRange.selector);
        kms.getSealedShare(HASH, 1, 3);
        vm.expectRevert(KMSRegistry.NoBackup.selector);
        kms.getSealedShare(HASH, 2, 0);
        vm.expectRevert(KMSRegistry.NoBackup.selector);
        kms.getBackup(keccak256("other"), 1);
    }

    function test_RevertIf_PublishBackupTwiceForTheSamePolicy() public {
        setInitial(3, 2);
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 100);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
        address second = makeAddr("second node");
        registerKmsNode(second);
        vm.expectRevert(KMSRegistry.BackupAlreadyPublished.selector);
        vm.prank(second);
        kms.publishBackup(HASH, sealedShares, commitments);
    }

    function test_NewBackupAfterPolicyChange() public {
        setInitial(3, 2);
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 100);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
        uint256 id = propose(10, 4, 3);
        vm.prank(approver(0));
        kms.approveRecoveryPolicy(id);
        vm.prank(approver(1));
        kms.approveRecoveryPolicy(id);
        assertEq(kms.recoveryPolicyId(), 2);
        assertFalse(kms.hasBackup(HASH, 2));
        // The old count no longer fits the new policy.
        vm.expectRevert(KMSRegistry.ShareCountMismatch.selector);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
        (sealedShares, commitments) = shares(4, 100);
        vm.expectEmit(address(kms));
        emit BackupPublished(HASH, 2, node);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
        assertTrue(kms.hasBackup(HASH, 1));
        assertTrue(kms.hasBackup(HASH, 2));
    }

    function test_RevertIf_PublisherNotAuthorized() public {
        setInitial(3, 2);
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 100);
        vm.expectRevert(KMSRegistry.NotAuthorizedToSetHash.selector);
        vm.prank(stranger);
        kms.publishBackup(HASH, sealedShares, commitments);
        // A STOPPED instance no longer qualifies.
        registry.setInstanceStatus(1, STOPPED);
        vm.expectRevert(KMSRegistry.NotAuthorizedToSetHash.selector);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
    }

    function test_RevertIf_PublisherVersionNotEnrolled() public {
        setInitial(3, 2);
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 100);
        registry.setVersionStatus(KMS_APP_ID, KMS_VERSION_ID, DEPRECATED);
        vm.expectRevert(KMSRegistry.NotAuthorizedToSetHash.selector);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
    }

    function test_RevertIf_HashIsNotTheCurrentOne() public {
        setInitial(3, 2);
        registerKmsNode(node);
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 100);
        // No hash set yet: even the zero hash is refused.
        vm.expectRevert(KMSRegistry.SecretHashMismatch.selector);
        vm.prank(node);
        kms.publishBackup(bytes32(0), sealedShares, commitments);
        vm.prank(node);
        kms.setMasterSecretHash(HASH);
        vm.expectRevert(KMSRegistry.SecretHashMismatch.selector);
        vm.prank(node);
        kms.publishBackup(keccak256("other"), sealedShares, commitments);
    }

    function test_RevertIf_NoPolicy() public {
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 100);
        vm.expectRevert(KMSRegistry.NoRecoveryPolicy.selector);
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
    }

    function test_RevertIf_BadShares() public {
        setInitial(3, 2);
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(3, 100);
        (bytes[] memory two, bytes32[] memory twoCommitments) = shares(2, 100);
        vm.startPrank(node);
        vm.expectRevert(KMSRegistry.ShareCountMismatch.selector);
        kms.publishBackup(HASH, two, commitments);
        vm.expectRevert(KMSRegistry.ShareCountMismatch.selector);
        kms.publishBackup(HASH, sealedShares, twoCommitments);
        sealedShares[1] = new bytes(0);
        vm.expectRevert(KMSRegistry.InvalidSealedShare.selector);
        kms.publishBackup(HASH, sealedShares, commitments);
        sealedShares[1] = new bytes(1025);
        vm.expectRevert(KMSRegistry.InvalidSealedShare.selector);
        kms.publishBackup(HASH, sealedShares, commitments);
        sealedShares[1] = new bytes(1);
        commitments[2] = bytes32(0);
        vm.expectRevert(KMSRegistry.InvalidShareCommitment.selector);
        kms.publishBackup(HASH, sealedShares, commitments);
        vm.stopPrank();
        assertFalse(kms.hasBackup(HASH, 1));
    }

    /// @dev core/chain's PUBLISH_BACKUP_GAS_CAP (14 M) must cover the worst case: 16 shares of 1024 bytes.
    function test_WorstCaseBackupFitsTheGasCap() public {
        setInitial(16, 9);
        authorizedNode();
        (bytes[] memory sealedShares, bytes32[] memory commitments) = shares(16, 1024);
        // Every word non-zero, so every slot is a fresh 22,100-gas SSTORE.
        for (uint256 i = 0; i < 16; ++i) {
            for (uint256 b = 0; b < 1024; ++b) {
                sealedShares[i][b] = 0xff;
            }
        }
        vm.prank(node);
        uint256 before = gasleft();
        kms.publishBackup(HASH, sealedShares, commitments);
        uint256 used = before - gasleft();
        // Calldata (16 gas a non-zero byte, at most ~17.5 KB) comes on top of execution.
        assertLt(used + 17_500 * 16 + 21_000, 14_000_000);
        emit log_named_uint("publishBackup 16 x 1024 B, execution gas", used);
    }

    // ------------------------------------------------------------------ fuzz

    /// @dev A policy is accepted iff 1 ≤ threshold ≤ count ≤ 16.
    function testFuzz_PolicyValidity(uint8 count, uint8 threshold) public {
        count = uint8(bound(count, 0, 20));
        bool valid = threshold >= 1 && threshold <= count && count <= 16;
        KMSRegistry.RecoveryCustodian[] memory list = custodians(0, count);
        if (!valid) vm.expectRevert(KMSRegistry.InvalidRecoveryPolicy.selector);
        vm.prank(kmsOwner);
        kms.setInitialRecoveryPolicy(list, threshold);
        assertEq(kms.recoveryPolicyId(), valid ? 1 : 0);
    }

    /// @dev Random voter subsets of a random current policy: the proposal activates exactly
    /// when the approvals reach the current threshold, and is rejected exactly when the vetoes do.
    function testFuzz_ActivationIffApprovalsReachThreshold(uint8 count, uint8 threshold, uint32 approveMask, uint32 vetoMask)
        public
    {
        count = uint8(bound(count, 1, 16));
        threshold = uint8(bound(threshold, 1, count));
        setInitial(count, threshold);
        uint256 id = propose(100, 2, 1);
        uint256 approvals;
        uint256 vetoes;
        for (uint256 i = 0; i < count; ++i) {
            if (kms.recoveryPolicyId() != 1 || kms.pendingProposalId() == 0) break;
            if ((approveMask >> i) & 1 == 1) {
                vm.prank(approver(i));
                kms.approveRecoveryPolicy(id);
                ++approvals;
            } else if ((vetoMask >> i) & 1 == 1) {
                vm.prank(approver(i));
                kms.vetoRecoveryPolicy(id);
                ++vetoes;
            }
        }
        (,,,,,, KMSRegistry.ProposalState state) = kms.getPolicyProposal(id);
        if (approvals >= threshold) {
            assertEq(uint8(state), uint8(KMSRegistry.ProposalState.Activated));
            assertEq(kms.recoveryPolicyId(), 2);
        } else if (vetoes >= threshold) {
            assertEq(uint8(state), uint8(KMSRegistry.ProposalState.Vetoed));
            assertEq(kms.recoveryPolicyId(), 1);
        } else {
            assertEq(uint8(state), uint8(KMSRegistry.ProposalState.Pending));
            assertEq(kms.recoveryPolicyId(), 1);
            vm.warp(block.timestamp + 7 days);
            kms.activateRecoveryPolicy(id);
            assertEq(kms.recoveryPolicyId(), 2);
        }
    }

    /// @dev Shares of random count and lengths round-trip through the views.
    function testFuzz_SharesRoundTrip(uint8 count, uint256 seed) public {
        count = uint8(bound(count, 1, 16));
        setInitial(count, 1);
        authorizedNode();
        bytes[] memory sealedShares = new bytes[](count);
        bytes32[] memory commitments = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint256 length = bound(uint256(keccak256(abi.encode(seed, i))), 1, 1024);
            sealedShares[i] = new bytes(length);
            for (uint256 b = 0; b < length; b += 32) {
                bytes32 word = keccak256(abi.encode(seed, i, b));
                for (uint256 k = 0; k < 32 && b + k < length; ++k) {
                    sealedShares[i][b + k] = word[k];
                }
            }
            commitments[i] = keccak256(sealedShares[i]);
        }
        vm.prank(node);
        kms.publishBackup(HASH, sealedShares, commitments);
        for (uint256 i = 0; i < count; ++i) {
            (bytes memory share, bytes32 commitment) = kms.getSealedShare(HASH, 1, i);
            assertEq(share, sealedShares[i]);
            assertEq(commitment, commitments[i]);
        }
    }
}
