#!/usr/bin/env python3
"""PROTOCOL §14 audit log vectors, computed without the project's code.

Usage:
    python3 test/vectors/python/audit_log.py     # print test/vectors/protocol-14-audit.json

It prints the whole vector file, byte for byte; test/unit/audit/auditPython.test.ts compares
that output with the file, and test/unit/audit/auditVectors.test.ts compares the file with
the project's code (core/audit, core/crypto, core/tee, core/client), so a change on either
side fails one of them.

From the fixed inputs below (a boot, request ids, clock readings, the ops of two chains, the
§5.7 node key and P-384 key B) it computes, for an app chain (app 49, every app op of §14.2)
and the cluster chain (every cluster event of §14.2), and for an empty app chain (app 50):
each entry's canonical JSON (§0) and entry_hash (§14.1), each head's message (§14.4), its
EIP-191 digest (§3.1.1) and the node's signature (v 0/1, low-S, RFC 6979, §3.1.2), and one
§14.4 page of app 49 read with a `since` in the middle of its chain.

Independence: SHA-256 comes from hashlib; canonical JSON is written here from §0's text, not
with `json.dumps`; the teePubkey DER comes from `cryptography`'s P-384 key and
SubjectPublicKeyInfo serialisation; keccak-256, RFC 6979 secp256k1 signing and the check of
every signature come from _ethereum.py (its own Keccak-f[1600] and `cryptography`). Before
printing, the script reproduces known values: §0's canonical JSON example, code-point key
order, §5.7's node wallet, P-384 key B and v1 PoP signature, and keccak-256 of "" and of the
§5.7 master secret.

Exit codes: 0 printed, 1 a self-test failed, 2 a missing dependency or bad usage.
"""
import hashlib
import json
import sys

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
except ImportError as error:  # a clear message, never a skip
    sys.stderr.write(f"audit_log.py: the Python package `cryptography` is missing ({error}); "
                     "install it (python3 -m pip install cryptography)\n")
    sys.exit(2)

# keccak-256, secp256k1 signing and recovery, EIP-191: shared with binding_v2.py.
# Imported after the dependency check, so a missing package exits 2 naming this script.
from _ethereum import (  # noqa: E402
    deterministic_signing_available, eip191_digest, private_key, self_test_keccak, self_test_signing, sign, wallet_of)


# ---------------------------------------------------------------- canonical JSON (§0)
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def canonical_string(text):
    """`"` and `\\` escaped; \\b \\f \\n \\r \\t; any other code point below U+0020 as \\u00xx; the rest literal."""
    out = []
    for char in text:
        if char in SHORT_ESCAPES:
            out.append(SHORT_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def canonical_json(value):
    """Keys sorted by code point (Python orders str by code point), recursively; no whitespace."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        assert 0 <= value <= 2**53 - 1, f"{value} is outside [0, 2^53-1]"
        return str(value)
    if isinstance(value, str):
        return canonical_string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(canonical_string(key) + ":" + canonical_json(value[key]) for key in sorted(value)) + "}"
    raise AssertionError(f"canonical JSON cannot hold {type(value).__name__}")


def self_test_canonical_json():
    assert canonical_json({"b": 1, "a": {"d": 1, "c": 2}}) == '{"a":{"c":2,"d":1},"b":1}'  # §0's example
    # By code point, U+FF61 sorts before U+1F511; UTF-16 units (0xD83D < 0xFF61) would sort it after.
    assert canonical_json({"\U0001F511": 1, "\uff61": 2}) == '{"\uff61":2,"\U0001F511":1}'
    assert canonical_json(["\"\\/\b\f\n\r\t\x00\x1f\x7f\u2028é"]) == '["\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028é"]'
    for sample in ({"k": "\x01\"\\"}, [0, 2**53 - 1, True, False, None, {}]):
        assert json.loads(canonical_json(sample)) == sample


# ---------------------------------------------------------------- §14 primitives
GENESIS_HASH = "00" * 32


def entry_hash(prev_hash, entry):
    """§14.1: sha256(prev_hash ‖ utf8(canonical_json(entry))), 64 lowercase hex digits."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(entry).encode("utf-8")).hexdigest()


def head_message(app_id, head, tee_pubkey, wallet):
    """§14.4: NovaKMS:AuditHead:<app_id>:<seq>:<head_hash>:<dropped>:<tee_pubkey>:<wallet>."""
    return f"NovaKMS:AuditHead:{app_id}:{head['seq']}:{head['hash']}:{head['dropped']}:{tee_pubkey}:{wallet}"


def p384_spki_hex(scalar_hex):
    key = ec.derive_private_key(int(scalar_hex, 16), ec.SECP384R1())
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()


# ---------------------------------------------------------------- fixed inputs
BOOT = bytes(range(0xb0, 0xc0)).hex()  # the 16 bytes a node would draw at start (§14.1)
NODE_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # §5.7 node key (anvil account 1)
NODE_WALLET = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
TEE_SCALAR = "22" * 48  # §5.7 P-384 key B
TEE_PUBKEY = ("3076301006072a8648ce3d020106052b8104002203620004"
              "4f2bda7fd2105f8467e21f45223ad58863ffa4c084832d9f6c64ffc47fdd519727ab53cb71f9c40de24b64acde61f02f"
              "c7dce130b612fa5dbcac94573a2354fd005d8e9caefdc5fde48304474708bbd82f77e1fd2c630bea236f6f8dccc1678e")
APP_ID = 49
EMPTY_APP_ID = 50
PEER_WALLET = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"  # anvil account 2
START_MS = 1767225600000  # §5.7's timestamp, in milliseconds
PAGE_SINCE = 3

# A key and a derive context that pin §0's escapes: quote, backslash, short and \u00xx control
# characters, and literal non-ASCII (2-, 3- and 4-byte UTF-8, U+2028) and `/`.
ESCAPED_KEY = 'notes/"draft"\\v2\n\x01\x1f/clé/日本/\U0001F511'
ESCAPED_CONTEXT = 'session "a"\\b\t\x07\u2028é'

# (op, its members): every app op of §14.2, in the order a session might make them.
APP_OPS = [
    ("derive", {"path": "wallet/root", "context": "", "length": 32, "epoch": {"cluster": 0, "app": 0}}),
    ("derive", {"path": "wallet/clé/日本/\U0001F511", "context": ESCAPED_CONTEXT, "length": 16,
                "epoch": {"cluster": 2, "app": 1}}),
    ("data_put", {"key": ESCAPED_KEY}),
    ("data_get", {"key": ESCAPED_KEY}),
    ("data_list", {"count": 3}),
    ("sign_cert", {"serial": "4e0f6a1c9b2d3e5f708192a3b4c5d6e7", "not_after_s": 1798761600}),
    ("data_delete", {"key": ESCAPED_KEY}),
]
# Every cluster event of §14.2.
CLUSTER_OPS = [
    ("epoch_serving", {"epoch": 1}),
    ("secret_sent", {"peer": PEER_WALLET, "epoch": 1}),
    ("snapshot_sent", {"peer": PEER_WALLET}),
    ("recovery_share_received", {"custodian": 2, "policy_id": 7}),
    ("epoch_serving", {"epoch": 2}),
    ("epoch_wiped", {"epoch": 1}),
]

DESCRIPTION = ("Audit log vectors (PROTOCOL §14): entry hashes over canonical JSON (§14.1, §0), the "
               "entries of §14.2, signed heads (§14.4) and one §14.4 page.")
SOURCE = ("PROTOCOL.md §14 (§14.1 chains and entry_hash, §14.2 entries, §14.4 head message and page; "
          "§0 canonical JSON; §3.1 EIP-191, node signatures with v 0/1); computed by the project's code "
          "(test/unit/audit/auditVectors.test.ts) and independently by test/vectors/python/audit_log.py "
          "(hashlib, its own canonical JSON, `cryptography` for P-384 and RFC 6979 ECDSA, its own keccak-256 "
          "in test/vectors/python/_ethereum.py). The node key and P-384 key B are those of §5.7; app 49's chain "
          "has every app op, the cluster chain every cluster event, app 50 has no entries.")


def chain_label(app_id):
    return "cluster" if app_id == "cluster" else f"app {app_id}"


def request_id(chain_tag, seq):
    """16 bytes a node would draw per request (§14.2); distinct across both chains."""
    return hashlib.sha256(f"request {chain_tag} {seq}".encode()).hexdigest()[:32]


def build_chain(app_id, ops, first_ms):
    """The chain's entry cases (in §14.2's member order, which canonical JSON re-sorts) and its head."""
    cases, prev, clock_ms = [], GENESIS_HASH, first_ms
    for seq, (op, members) in enumerate(ops, start=1):
        clock_ms += 1000 + 250 * seq  # the clock only moves forward here; §14.2: it orders nothing
        entry = {"seq": seq, "boot": BOOT, "app_id": app_id, "request_id": request_id(app_id, seq),
                 "at_ms": clock_ms, "op": op, **members}
        digest = entry_hash(prev, entry)
        cases.append({"name": f"{chain_label(app_id)} seq {seq} {op}", "kind": "audit_entry", "prev_hash": prev, "entry": entry,
                      "canonical_json": canonical_json(entry), "entry_hash": digest})
        prev = digest
    return cases, {"seq": len(ops), "hash": prev, "dropped": 0}


def head_case(app_id, head, node_key):
    message = head_message(app_id, head, TEE_PUBKEY, NODE_WALLET)
    return {"name": f"{chain_label(app_id)} head", "kind": "audit_head", "app_id": app_id, "head": head, "tee_pubkey": TEE_PUBKEY,
            "wallet": NODE_WALLET, "message": message, "eip191_digest": eip191_digest(message).hex(),
            "signature": sign(node_key, message)}


def page_case(app_id, since, entry_cases, head, signature):
    """§14.4: entries with seq > max(since, dropped), prev_hash the hash before the first."""
    returned = [case for case in entry_cases if case["entry"]["seq"] > max(since, head["dropped"])]
    prev_hash = returned[0]["prev_hash"] if returned else head["hash"]
    page = {"app_id": app_id, "boot": BOOT, "since": since, "prev_hash": prev_hash,
            "entries": [{**case["entry"], "hash": case["entry_hash"]} for case in returned],
            "head": head, "head_signature": signature, "more": False}
    # The page is complete (more is false): its entries chain from prev_hash to the head.
    running = prev_hash
    for item in page["entries"]:
        running = entry_hash(running, {key: value for key, value in item.items() if key != "hash"})
        assert running == item["hash"]
    assert running == head["hash"] and page["entries"][-1]["seq"] == head["seq"]
    return {"name": f"{chain_label(app_id)} page since {since}", "kind": "audit_page", "app_id": app_id, "since": since, "page": page}


def build_vectors():
    node = private_key(NODE_KEY)
    assert wallet_of(node) == NODE_WALLET, "the node key's wallet is not §5.7's"
    assert p384_spki_hex(TEE_SCALAR) == TEE_PUBKEY, "P-384 key B's DER is not §5.7's"
    app_entries, app_head = build_chain(APP_ID, APP_OPS, START_MS)
    cluster_entries, cluster_head = build_chain("cluster", CLUSTER_OPS, START_MS + 500)
    # §14.4: an app with no entries on this node has the empty chain.
    empty_head = {"seq": 0, "hash": GENESIS_HASH, "dropped": 0}
    heads = [head_case(APP_ID, app_head, node), head_case("cluster", cluster_head, node),
             head_case(EMPTY_APP_ID, empty_head, node)]
    page = page_case(APP_ID, PAGE_SINCE, app_entries, app_head, heads[0]["signature"])
    assert {op for op, _ in APP_OPS} == {"derive", "data_get", "data_list", "data_put", "data_delete", "sign_cert"}
    assert {op for op, _ in CLUSTER_OPS} == {"secret_sent", "snapshot_sent", "recovery_share_received",
                                            "epoch_serving", "epoch_wiped"}
    inputs = {"boot": BOOT, "node_private_key": NODE_KEY, "node_wallet": NODE_WALLET, "tee_private_scalar": TEE_SCALAR,
              "tee_pubkey": TEE_PUBKEY, "genesis_hash": GENESIS_HASH}
    return {"description": DESCRIPTION, "source": SOURCE, "inputs": inputs,
            "cases": app_entries + cluster_entries + heads + [page]}


def main(argv):
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    if not deterministic_signing_available():
        sys.stderr.write("audit_log.py: this cryptography/OpenSSL cannot sign deterministically (RFC 6979); "
                         "it needs cryptography >= 44 (python3 -m pip install -U cryptography)\n")
        return 2
    try:
        self_test_keccak()
        self_test_signing()
        self_test_canonical_json()
        vectors = build_vectors()
    except AssertionError as error:
        sys.stderr.write(f"audit_log.py: SELF-TEST FAILED: {error}\n")
        return 1
    print(json.dumps(vectors, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
