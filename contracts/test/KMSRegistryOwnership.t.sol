// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {KMSRegistry} from "../src/KMSRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice PROTOCOL §9.1 (issue 19): two-step ownership. The owner nominates, the nominee
/// accepts, and every owner-only function follows the current owner.
contract KMSRegistryOwnershipTest is RegistryFixture {
    address internal nominee = makeAddr("nominee");
    address internal otherNominee = makeAddr("otherNominee");

    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    function test_SelectorsAndTopics() public pure {
        assertEq(KMSRegistry.owner.selector, bytes4(keccak256("owner()")));
        assertEq(KMSRegistry.OWNER.selector, bytes4(0x117803e3));
        assertEq(KMSRegistry.pendingOwner.selector, bytes4(keccak256("pendingOwner()")));
        assertEq(KMSRegistry.transferOwnership.selector, bytes4(keccak256("transferOwnership(address)")));
        assertEq(KMSRegistry.acceptOwnership.selector, bytes4(keccak256("acceptOwnership()")));
        assertEq(KMSRegistry.NotPendingOwner.selector, bytes4(keccak256("NotPendingOwner()")));
        assertEq(
            KMSRegistry.OwnershipTransferStarted.selector, keccak256("OwnershipTransferStarted(address,address)")
        );
        assertEq(KMSRegistry.OwnershipTransferred.selector, keccak256("OwnershipTransferred(address,address)"));
    }

    function test_ConstructorSetsOwnerAndEmits() public {
        vm.expectEmit(true, true, false, false);
        emit OwnershipTransferred(address(0), kmsOwner);
        KMSRegistry fresh = new KMSRegistry(kmsOwner, address(registry), 1 days, 1 days);
        assertEq(fresh.owner(), kmsOwner);
        assertEq(fresh.OWNER(), kmsOwner);
        assertEq(fresh.pendingOwner(), address(0));
    }

    function test_ConstructorRefusesZeroOwner() public {
        vm.expectRevert(KMSRegistry.ZeroAddress.selector);
        new KMSRegistry(address(0), address(registry), 1 days, 1 days);
    }

    function test_TwoStepTransfer() public {
        vm.expectEmit(true, true, false, false, address(kms));
        emit OwnershipTransferStarted(kmsOwner, nominee);
        vm.prank(kmsOwner);
        kms.transferOwnership(nominee);
        // Nominated is not owner: the old owner keeps every right until acceptance.
        assertEq(kms.owner(), kmsOwner);
        assertEq(kms.pendingOwner(), nominee);

        vm.expectEmit(true, true, false, false, address(kms));
        emit OwnershipTransferred(kmsOwner, nominee);
        vm.prank(nominee);
        kms.acceptOwnership();
        assertEq(kms.owner(), nominee);
        assertEq(kms.OWNER(), nominee);
        assertEq(kms.pendingOwner(), address(0));
    }

    function test_OldOwnerKeepsRightsUntilAccepted() public {
        vm.prank(kmsOwner);
        kms.transferOwnership(nominee);
        vm.prank(kmsOwner);
        kms.setNovaAppRegistry(address(registry));
        vm.prank(nominee);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        kms.setNovaAppRegistry(address(registry));
    }

    function test_ReplacedNominationCannotAccept() public {
        vm.startPrank(kmsOwner);
        kms.transferOwnership(nominee);
        kms.transferOwnership(otherNominee);
        vm.stopPrank();
        assertEq(kms.pendingOwner(), otherNominee);
        vm.prank(nominee);
        vm.expectRevert(KMSRegistry.NotPendingOwner.selector);
        kms.acceptOwnership();
        vm.prank(otherNominee);
        kms.acceptOwnership();
        assertEq(kms.owner(), otherNominee);
    }

    function test_ZeroCancelsNomination() public {
        vm.startPrank(kmsOwner);
        kms.transferOwnership(nominee);
        vm.expectEmit(true, true, false, false, address(kms));
        emit OwnershipTransferStarted(kmsOwner, address(0));
        kms.transferOwnership(address(0));
        vm.stopPrank();
        assertEq(kms.pendingOwner(), address(0));
        vm.prank(nominee);
        vm.expectRevert(KMSRegistry.NotPendingOwner.selector);
        kms.acceptOwnership();
        // Nobody can accept a zero nomination, not even address(0) itself.
        vm.prank(address(0));
        vm.expectRevert(KMSRegistry.NotPendingOwner.selector);
        kms.acceptOwnership();
        assertEq(kms.owner(), kmsOwner);
    }

    function test_AcceptIsOneShot() public {
        vm.prank(kmsOwner);
        kms.transferOwnership(nominee);
        vm.prank(nominee);
        kms.acceptOwnership();
        vm.prank(nominee);
        vm.expectRevert(KMSRegistry.NotPendingOwner.selector);
        kms.acceptOwnership();
    }

    function test_StrangerCannotTransferOrAccept() public {
        vm.prank(stranger);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        kms.transferOwnership(stranger);
        vm.prank(stranger);
        vm.expectRevert(KMSRegistry.NotPendingOwner.selector);
        kms.acceptOwnership();
        vm.prank(nominee);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        kms.transferOwnership(nominee);
    }

    function test_OldOwnerCannotNominateAfterTransfer() public {
        _transferTo(nominee);
        vm.prank(kmsOwner);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        kms.transferOwnership(kmsOwner);
    }

    /// Every owner-only function refuses the previous owner and a stranger after a transfer.
    function test_EveryOwnerOnlyFunctionRefusesThePreviousOwner() public {
        _transferTo(nominee);
        address[2] memory refused = [kmsOwner, stranger];
        for (uint256 i = 0; i < refused.length; i++) {
            _expectAllOwnerOnlyRefused(refused[i]);
        }
    }

    /// ... and follows the new owner: each call gets past `onlyOwner` (it may still revert
    /// for its own rules, but never with NotOwner).
    function test_EveryOwnerOnlyFunctionFollowsTheNewOwner() public {
        _transferTo(nominee);
        bytes[] memory calls = _ownerOnlyCalls();
        for (uint256 i = 0; i < calls.length; i++) {
            uint256 snapshot = vm.snapshotState();
            vm.prank(nominee);
            (bool ok, bytes memory result) = address(kms).call(calls[i]);
            if (!ok) {
                assertTrue(result.length < 4 || bytes4(result) != KMSRegistry.NotOwner.selector, "new owner refused");
            }
            vm.revertToState(snapshot);
        }
        // One that must succeed outright: the new owner resets the hash.
        vm.prank(nominee);
        kms.resetMasterSecretHash();
    }

    function testFuzz_OnlyThePendingOwnerAccepts(address caller, address candidate) public {
        vm.assume(candidate != address(0));
        vm.prank(kmsOwner);
        kms.transferOwnership(candidate);
        vm.prank(caller);
        if (caller == candidate) {
            kms.acceptOwnership();
            assertEq(kms.owner(), candidate);
        } else {
            vm.expectRevert(KMSRegistry.NotPendingOwner.selector);
            kms.acceptOwnership();
            assertEq(kms.owner(), kmsOwner);
        }
    }

    function testFuzz_OnlyTheOwnerNominates(address caller) public {
        vm.assume(caller != kmsOwner);
        vm.prank(caller);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        kms.transferOwnership(caller);
        assertEq(kms.pendingOwner(), address(0));
    }

    function _transferTo(address next) internal {
        vm.prank(kmsOwner);
        kms.transferOwnership(next);
        vm.prank(next);
        kms.acceptOwnership();
    }

    function _expectAllOwnerOnlyRefused(address caller) internal {
        bytes[] memory calls = _ownerOnlyCalls();
        for (uint256 i = 0; i < calls.length; i++) {
            vm.prank(caller);
            (bool ok, bytes memory result) = address(kms).call(calls[i]);
            assertFalse(ok, "owner-only call succeeded");
            assertEq(bytes4(result), KMSRegistry.NotOwner.selector);
        }
    }

    /// Every function behind `onlyOwner` (ten, with transferOwnership), with plausible arguments.
    function _ownerOnlyCalls() internal view returns (bytes[] memory calls) {
        KMSRegistry.RecoveryCustodian[] memory custodians = new KMSRegistry.RecoveryCustodian[](0);
        calls = new bytes[](10);
        calls[0] = abi.encodeCall(KMSRegistry.transferOwnership, (stranger));
        calls[1] = abi.encodeCall(KMSRegistry.setNovaAppRegistry, (address(registry)));
        calls[2] = abi.encodeCall(KMSRegistry.setKmsAppId, (KMS_APP_ID));
        calls[3] = abi.encodeCall(KMSRegistry.resetMasterSecretHash, ());
        calls[4] = abi.encodeCall(KMSRegistry.startRotation, ());
        calls[5] = abi.encodeCall(KMSRegistry.retireEpoch, (0));
        calls[6] = abi.encodeCall(KMSRegistry.forceRetireEpoch, (0));
        calls[7] = abi.encodeCall(KMSRegistry.setInitialRecoveryPolicy, (custodians, 1));
        calls[8] = abi.encodeCall(KMSRegistry.proposeRecoveryPolicy, (custodians, 1));
        calls[9] = abi.encodeCall(KMSRegistry.cancelRecoveryPolicyProposal, (1));
    }

    /// A call past `onlyOwner` meets the function's own rules: here, no policy to replace yet.
    function test_ProposeRecoveryPolicyFollowsTheOwner() public {
        _transferTo(nominee);
        KMSRegistry.RecoveryCustodian[] memory custodians = new KMSRegistry.RecoveryCustodian[](0);
        vm.prank(kmsOwner);
        vm.expectRevert(KMSRegistry.NotOwner.selector);
        kms.proposeRecoveryPolicy(custodians, 1);
        vm.prank(nominee);
        vm.expectRevert(KMSRegistry.NoRecoveryPolicy.selector);
        kms.proposeRecoveryPolicy(custodians, 1);
    }
}
