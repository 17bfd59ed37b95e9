#!/usr/bin/env python3
"""PROTOCOL §5.7 "Binding v2" vectors, computed without the project's code.

Usage:
    python3 test/vectors/python/binding_v2.py              # print the vector JSON
    python3 test/vectors/python/binding_v2.py FILE.json    # check FILE against it
    python3 test/vectors/python/binding_v2.py --verify-only FILE.json
                                          # the fallback below, even where RFC 6979 works

From the primary inputs below (the §5.7 keys, nonce, timestamp, master secret, P-384 keys
and envelope; fixed bodies and URLs) this script computes every case of test/vectors/protocol-5.7-binding-v2.json:
content_sha256, request_digest (§3.5), TARGET, the v2 PoP strings (§3.5, §3.6), the v2
response binding strings, their EIP-191 signatures, and the v1 and v2 X-Sync-Signature
(§5.4, §3.6). With FILE it compares every case, inputs and outputs, and exits 1 on the first
mismatch, naming it; on success it prints "checked N values".

Independence: SHA-256, HMAC and HKDF come from hashlib/hmac; keccak-256, RFC 6979 secp256k1
signing (low-S, v in {0, 1} found by pure-Python key recovery) and the verification of every
signature come from _ethereum.py next to this script, which says how: its own Keccak-f[1600]
and the `cryptography` package, never the project's code.
If deterministic signing is unavailable, FILE mode still verifies each signature of FILE as
above (and says so); print mode then fails, since it cannot make the signatures.

Exit codes: 0 all checked, 1 a mismatch, 2 a missing dependency or bad usage.
"""
import hashlib
import hmac
import importlib.metadata
import json
import sys
from urllib.parse import urlsplit

try:
    from cryptography.hazmat.backends.openssl import backend as openssl_backend
except ImportError as error:  # a clear message, never a skip
    sys.stderr.write(f"binding_v2.py: the Python package `cryptography` is missing ({error}); "
                     "install it (python3 -m pip install cryptography)\n")
    sys.exit(2)

# keccak-256, secp256k1 signing and recovery, EIP-191: shared with audit_log.py.
# Imported after the dependency check, so a missing package exits 2 naming this script.
from _ethereum import STATS, check_signature, deterministic_signing_available, private_key, self_test_keccak, self_test_signing, sign, wallet_of  # noqa: E402


# ---------------------------------------------------------------- the protocol strings
def sha256hex(data):
    return hashlib.sha256(data).hexdigest()


def hkdf_sha256(ikm, salt, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def canonical_json(value):
    # Keys by code point (Python compares str by code point), no whitespace, non-ASCII literal.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_target(url, instance_url):
    """§3.5: pathname + search, minus the instanceUrl path at a segment boundary."""
    # Only already-serialised URLs: no character the WHATWG parser would percent-encode.
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&()*+,;=%")
    assert set(url) <= allowed, "the URL needs WHATWG serialisation, which this script does not do"
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    prefix = urlsplit(instance_url).path.rstrip("/") if instance_url else ""
    return target[len(prefix):] if prefix and target.startswith(prefix + "/") else target


def json_text(value):
    """What JSON.stringify makes of an object of ASCII strings: insertion order, no spaces."""
    return json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------- primary inputs (§5.7)
MASTER_SECRET = bytes(range(32)).hex()
APP_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
NODE_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
NONCE = "AAECAwQFBgcICQoLDA0ODw=="
TIMESTAMP = 1767225600
DER_PREFIX = "3076301006072a8648ce3d020106052b8104002203620004"
KEY_A = ("386e767ea5cb716c9cd620ff7342129c892a6fccefe612140c80bff59e943468019dda16e5079b0c1d9001d23a624b6d"
         "d088d0c3826394194787403e8a7d07e5e22f7e9c0b8e80fa1faff5d28b4bb597b267f0b87023ca61fc8454bddefd2e0e")
KEY_B = ("4f2bda7fd2105f8467e21f45223ad58863ffa4c084832d9f6c64ffc47fdd519727ab53cb71f9c40de24b64acde61f02f"
         "c7dce130b612fa5dbcac94573a2354fd005d8e9caefdc5fde48304474708bbd82f77e1fd2c630bea236f6f8dccc1678e")
# §5.7: {"length":32,"path":"wallet/root"} sealed from A to B, nonce 0f0e…04, capsule-ecdh-aes256gcm-v1.
ENVELOPE_CIPHERTEXT = ("80a40786e1ff87d5f22ef1f2f8db20cc36ff0d294eb9351b93a5c7f384e85f0a"
                       "c88c2a1fafb5599ed2d2f6ee9b5d6db202b5")
DERIVE_REQUEST_BODY = json_text({"sender_tee_pubkey": DER_PREFIX + KEY_A, "nonce": "0f0e0d0c0b0a090807060504",
                                 "encrypted_data": ENVELOPE_CIPHERTEXT})
# An answer of envelope shape from B; its ciphertext is a placeholder: only its bytes are hashed.
DERIVE_RESPONSE_BODY = json_text({"sender_tee_pubkey": DER_PREFIX + KEY_B, "nonce": "a0a1a2a3a4a5a6a7a8a9aaab",
                                  "encrypted_data": bytes(range(48)).hex()})
INSTANCE_URL = "https://node.example/kms-1"
# The §5.4 vector's envelope: sent in JSON.stringify order, MACed in canonical order.
SYNC_ENVELOPE = {"sender_tee_pubkey": "cc", "nonce": "bb", "encrypted_data": "aa"}
SYNC_RESPONSE_BODY = json_text({"sender_tee_pubkey": "dd", "nonce": "ee", "encrypted_data": "ff"})

SOURCE = ("PROTOCOL.md §5.7 \"Binding v2\" (§3.5 request/response binding, §3.6 sync binding); computed by "
          "the project's code (test/unit/crypto/bindingV2.test.ts) and independently by "
          "test/vectors/python/binding_v2.py (hashlib/hmac, a keccak-256 of its own, `cryptography` for "
          "RFC 6979 ECDSA). Keys, nonce, timestamp, master secret and envelope are those of §5.7; the app "
          "key signs app PoP, the node key signs the response binding and, as requester, the peer PoP v2 "
          "to the app key's wallet, which answers with the peer binding.")


def build_vectors():
    app, node = private_key(APP_KEY), private_key(NODE_KEY)
    app_wallet, node_wallet = wallet_of(app), wallet_of(node)
    assert app_wallet == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert node_wallet == "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
    cases = []

    def body_case(name, body):
        cases.append({"name": name, "kind": "content_sha256", "body": body, "expected": sha256hex(body.encode())})
        return cases[-1]["expected"]

    def digest_case(name, method, target, content):
        preimage = f"{method}\n{target}\n{content}"
        cases.append({"name": name, "kind": "request_digest", "method": method, "target": target,
                      "content_sha256": content, "preimage": preimage, "expected": sha256hex(preimage.encode())})
        return cases[-1]["expected"]

    def auth_case(name, kind, label, wallet, digest):
        message = f"NovaKMS:{label}:v2:{NONCE}:{wallet}:{TIMESTAMP}:{digest}"
        cases.append({"name": name, "kind": kind, "nonce": NONCE, "wallet": wallet, "timestamp": TIMESTAMP,
                      "request_digest": digest, "expected": message})
        return message

    def binding_case(name, subject, wallet, status, body_sha256):
        message = f"NovaKMS:Response:v2:{subject}:{wallet}:{status}:{body_sha256}"
        cases.append({"name": name, "kind": "response_binding_message", "subject": subject, "wallet": wallet,
                      "status": status, "body_sha256": body_sha256, "expected": message})
        return message

    def signature_case(name, key_hex, key, message):
        cases.append({"name": name, "kind": "eip191_signature", "private_key": key_hex, "message": message,
                      "signer": wallet_of(key), "expected": sign(key, message)})
        return cases[-1]["expected"]

    def target_case(name, url):
        cases.append({"name": name, "kind": "request_target", "instance_url": INSTANCE_URL, "url": url,
                      "expected": request_target(url, INSTANCE_URL)})
        return cases[-1]["expected"]

    # §3.5: POST /kms/derive and its 200 answer.
    content = body_case("derive request body", DERIVE_REQUEST_BODY)
    digest = digest_case("derive request digest", "POST", "/kms/derive", content)
    message = auth_case("app PoP message v2", "app_auth_message_v2", "AppAuth", node_wallet, digest)
    app_signature = signature_case("app PoP v2 signature (X-App-Signature)", APP_KEY, app, message)
    answer = body_case("derive response body", DERIVE_RESPONSE_BODY)
    message = binding_case("response binding message", app_signature, node_wallet, 200, answer)
    signature_case("response binding signature (X-KMS-Response-Binding)", NODE_KEY, node, message)
    # §3.5 TARGET: the instanceUrl path comes off the front, whether or not a proxy kept it.
    target = target_case("TARGET with the instanceUrl path removed", "https://node.example/kms-1/kms/data?key=a%20b")
    assert target_case("TARGET when a proxy already removed the path", "https://node.example/kms/data?key=a%20b") == target
    empty = body_case("empty body", "")
    digest_case("GET /kms/data?key=a%20b request digest", "GET", target, empty)
    # §3.6: POST /sync, its MACs and its 200 answer.
    content = body_case("sync request body", json_text(SYNC_ENVELOPE))
    digest = digest_case("sync request digest", "POST", "/sync", content)
    message = auth_case("peer PoP message v2", "peer_auth_message_v2", "Auth", app_wallet, digest)
    peer_signature = signature_case("peer PoP v2 signature (X-KMS-Signature)", NODE_KEY, node, message)
    sync_key = hkdf_sha256(bytes.fromhex(MASTER_SECRET), b"nova-kms:app:0", b"sync_hmac_key", 32)
    cases.append({"name": "sync_key", "kind": "sync_key", "master_secret": MASTER_SECRET, "expected": sync_key.hex()})
    canonical = canonical_json(SYNC_ENVELOPE)
    v1 = hmac.new(sync_key, canonical.encode(), hashlib.sha256).hexdigest()
    cases.append({"name": "X-Sync-Signature v1 of the sync envelope (§5.4)", "kind": "sync_hmac",
                  "sync_key": sync_key.hex(), "envelope": SYNC_ENVELOPE, "canonical": canonical, "expected": v1})
    mac_input = f"{NONCE}\n{canonical}"
    v2 = hmac.new(sync_key, mac_input.encode(), hashlib.sha256).hexdigest()
    assert v1 != v2
    cases.append({"name": "X-Sync-Signature v2 of the sync envelope (§3.6)", "kind": "sync_hmac_v2",
                  "sync_key": sync_key.hex(), "nonce": NONCE, "envelope": SYNC_ENVELOPE, "mac_input": mac_input,
                  "expected": v2})
    answer = body_case("sync response body", SYNC_RESPONSE_BODY)
    message = binding_case("peer binding message", peer_signature, app_wallet, 200, answer)
    signature_case("peer binding signature (X-KMS-Peer-Binding)", APP_KEY, app, message)
    return {"source": SOURCE, "cases": cases}


def verify_only(file):
    """Without deterministic signing: every other value is recomputed, signatures verified."""
    keys = {APP_KEY: private_key(APP_KEY), NODE_KEY: private_key(NODE_KEY)}
    global sign

    def sign_from_file(key, message):
        entry = next(c for c in file["cases"] if c["kind"] == "eip191_signature" and c["message"] == message)
        assert keys[entry["private_key"]].public_key().public_numbers() == key.public_key().public_numbers()
        return check_signature(key, message, entry["expected"])

    sign = sign_from_file
    return build_vectors()


def compare(expected, actual):
    checked = 0
    if expected.get("source") != actual["source"]:
        return f"source differs:\n  file:   {expected.get('source')!r}\n  python: {actual['source']!r}", checked
    file_cases = expected.get("cases", [])
    if len(file_cases) != len(actual["cases"]):
        return f"the file has {len(file_cases)} cases, python computes {len(actual['cases'])}", checked
    for got, want in zip(file_cases, actual["cases"]):
        for field in sorted(set(got) | set(want)):
            if got.get(field) != want.get(field):
                return (f"case {want['name']!r}, field {field!r}:\n  file:   {got.get(field)!r}\n"
                        f"  python: {want.get(field)!r}"), checked
        checked += 1
    return None, checked


def main(argv):
    forced = len(argv) == 3 and argv[1] == "--verify-only"
    if forced:
        argv = [argv[0], argv[2]]
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        sys.stderr.write(__doc__)
        return 2
    self_test_keccak()
    deterministic = not forced and deterministic_signing_available()
    if deterministic:
        self_test_signing()
    if len(argv) == 1:
        if not deterministic:
            sys.stderr.write("binding_v2.py: this cryptography/OpenSSL cannot sign deterministically (RFC 6979); "
                             "pass the JSON file to verify its signatures instead\n")
            return 2
        print(json.dumps(build_vectors(), indent=2, ensure_ascii=False))
        return 0
    with open(argv[1], encoding="utf-8") as handle:
        file = json.load(handle)
    try:
        actual = build_vectors() if deterministic else verify_only(file)
    except (AssertionError, StopIteration) as error:
        print(f"binding_v2.py: MISMATCH: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    problem, checked = compare(file, actual)
    if problem is not None:
        print(f"binding_v2.py: MISMATCH in {argv[1]}: {problem}", file=sys.stderr)
        return 1
    mode = ("re-signed with RFC 6979 and verified" if deterministic
            else "verified, not re-signed (" + ("--verify-only" if forced else "deterministic signing unavailable") + ")")
    print(f"binding_v2.py: checked {checked} values in {argv[1]}; "
          f"{sum(1 for c in actual['cases'] if c['kind'] == 'eip191_signature')} signatures {mode}; "
          f"{STATS['verified']} signature verifications, keccak self-test passed "
          f"(cryptography {importlib.metadata.version('cryptography')}, {openssl_backend.openssl_version_text()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
