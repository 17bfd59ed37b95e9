"""keccak-256, secp256k1 and EIP-191 for the vector scripts, written without the project's code.

Shared by binding_v2.py (PROTOCOL §5.7 "Binding v2") and audit_log.py (§14), which import it
from their own directory (Python puts a script's directory first on sys.path).

Independence: keccak-256 is written here (Keccak-f[1600] with the original 0x01 padding;
hashlib's sha3_256 is FIPS 202 SHA3, which pads with 0x06, and is used only to self-test the
permutation); ECDSA secp256k1 comes from the `cryptography` package:
  - signing: RFC 6979 deterministic ECDSA (`ec.ECDSA(Prehashed(SHA256()),
    deterministic_signing=True)`: the nonce's HMAC-DRBG runs on SHA-256 over the keccak
    digest, as RFC 6979 §3.2 with H = SHA-256 and the message hash given). It needs
    cryptography >= 44 linked to OpenSSL >= 3.2; cryptography's wheels bundle their own
    OpenSSL, so the system's OpenSSL 3.0 does not matter. s is then normalised to low-S;
  - verification: every signature is also checked with cryptography's `verify` on the
    keccak digest, r and s in [1, n-1] and s <= n/2;
  - v (the recovery id, 0 or 1, as node-made signatures carry it, PROTOCOL §3.1.2): found in
    pure Python by recovering the public key from (r, s) for v = 0 and v = 1 and keeping the
    one that equals the signer's key from `cryptography`.

Importing this module without `cryptography` exits 2 with a message naming the script.
"""
import hashlib
import os
import sys

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import (
        Prehashed, decode_dss_signature, encode_dss_signature)
except ImportError as error:  # a clear message, never a skip
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: the Python package `cryptography` is missing ({error}); "
                     "install it (python3 -m pip install cryptography)\n")
    sys.exit(2)

# ---------------------------------------------------------------- keccak-256 (Keccak-f[1600])
MASK = (1 << 64) - 1


def _rc_bit(t):
    r = 1
    for _ in range(t % 255):
        r <<= 1
        if r & 0x100:
            r ^= 0x171  # x^8 + x^6 + x^5 + x^4 + 1
    return r & 1


ROUND_CONSTANTS = [sum(_rc_bit(j + 7 * i) << ((1 << j) - 1) for j in range(7)) for i in range(24)]
ROTATIONS = [[0] * 5 for _ in range(5)]
_x, _y = 1, 0
for _t in range(24):
    ROTATIONS[_x][_y] = ((_t + 1) * (_t + 2) // 2) % 64
    _x, _y = _y, (2 * _x + 3 * _y) % 5


def _rol(value, n):
    return ((value << n) | (value >> (64 - n))) & MASK if n else value


def keccak_f(a):
    """One Keccak-f[1600] permutation of the 5x5 lanes a[x][y]."""
    for rc in ROUND_CONSTANTS:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], ROTATIONS[x][y])
        a = [[b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        a[0][0] ^= rc
    return a


def sponge256(data, pad_byte):
    """The 256-bit sponge (rate 136 bytes): pad 0x01 is keccak-256, 0x06 is SHA3-256."""
    rate = 136
    padded = bytearray(data) + bytes([pad_byte]) + bytes((-len(data) - 1) % rate)
    padded[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for offset in range(0, len(padded), rate):
        block = padded[offset:offset + rate]
        for i in range(rate // 8):
            a[i % 5][i // 5] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = keccak_f(a)
    return b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


def keccak256(data):
    return sponge256(data, 0x01)


def self_test_keccak():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"").hex() != hashlib.sha3_256(b"").hexdigest()  # the padding differs
    # The permutation, on one to three blocks, against hashlib's SHA3 (same sponge, pad 0x06).
    for length in (0, 1, 135, 136, 137, 271, 272, 400):
        data = bytes(i % 251 for i in range(length))
        assert sponge256(data, 0x06) == hashlib.sha3_256(data).digest(), length
    # §5.7: keccak256(master secret 00..1f).
    assert keccak256(bytes(range(32))).hex() == "8ae1aa597fa146ebd3aa2ceddf360668dea5e526567e92b0321816a4e895bd2d"


# ---------------------------------------------------------------- secp256k1, EIP-191
P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _point_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % P == 0:
        return None
    if p1 == p2:
        slope = 3 * p1[0] * p1[0] * pow(2 * p1[1], -1, P) % P
    else:
        slope = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (slope * slope - p1[0] - p2[0]) % P
    return x, (slope * (p1[0] - x) - p1[1]) % P


def _point_mul(k, point):
    result = None
    while k:
        if k & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        k >>= 1
    return result


def recover_public_point(digest, r, s, v):
    """Q = r^-1 (s R - e G), R = (r, y) with y of parity v (v in {0, 1}; r < p - n here)."""
    y_squared = (pow(r, 3, P) + 7) % P
    y = pow(y_squared, (P + 1) // 4, P)
    if y * y % P != y_squared:
        return None
    if y & 1 != v:
        y = P - y
    e = int.from_bytes(digest, "big") % N
    return _point_mul(pow(r, -1, N), _point_add(_point_mul(s, (r, y)), _point_mul(-e % N, G)))


def eip191_digest(message):
    data = message.encode("utf-8")
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def private_key(hex_key):
    return ec.derive_private_key(int(hex_key, 16), ec.SECP256K1())


def wallet_of(key):
    numbers = key.public_key().public_numbers()
    return "0x" + keccak256(numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big"))[12:].hex()


ECDSA_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))
STATS = {"signed": 0, "verified": 0}


def check_signature(key, message, signature):
    """Verifies r||s||v with cryptography, the ranges, low-S and v by recovery. Returns the text."""
    raw = bytes.fromhex(signature.removeprefix("0x"))
    assert len(raw) == 65, f"{signature} is not 65 bytes"
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    assert 1 <= r < N and 1 <= s < N, "r or s out of range"
    assert s <= N // 2, "s is not low-S"
    assert v in (0, 1), "v is not 0 or 1"
    digest = eip191_digest(message)
    try:
        key.public_key().verify(encode_dss_signature(r, s), digest, ECDSA_PREHASHED)
    except InvalidSignature:
        raise AssertionError(f"{signature} does not verify over {message!r} for {wallet_of(key)}") from None
    numbers = key.public_key().public_numbers()
    found = [rid for rid in (0, 1) if recover_public_point(digest, r, s, rid) == (numbers.x, numbers.y)]
    assert found == [v], f"recovery id: expected {v}, recovered with {found}"
    STATS["verified"] += 1
    return signature


def sign(key, message):
    """EIP-191 with RFC 6979, low-S, r||s||v, v in {0, 1}, 0x + 130 lowercase hex."""
    digest = eip191_digest(message)
    r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True)))
    if s > N // 2:
        s = N - s  # the same R, so the recovery id is found below either way
    numbers = key.public_key().public_numbers()
    v = next(rid for rid in (0, 1) if recover_public_point(digest, r, s, rid) == (numbers.x, numbers.y))
    STATS["signed"] += 1
    return check_signature(key, message, "0x" + r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex() + f"{v:02x}")


def deterministic_signing_available():
    try:
        private_key("01" * 32).sign(b"\x00" * 32, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True))
        return True
    except (UnsupportedAlgorithm, TypeError):
        return False


# §5.7 "PoP": the app key, its wallet, and the v1 app PoP message with its RFC 6979 signature.
SECTION_5_7_APP_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SECTION_5_7_POP_MESSAGE = "NovaKMS:AppAuth:AAECAwQFBgcICQoLDA0ODw==:0x70997970c51812dc3a010c7d01b50e0d17dc79c8:1767225600"
SECTION_5_7_POP_SIGNATURE = ("0x564ac926e45cf14833d12fe2422e1b17790147e6cd031cb4893da397fb418830"
                             "512db815489b50dc98b3ada078bd6c830b8f0222899e2cde2f697db56c6d4ce700")


def self_test_signing():
    # §5.7 (v1) app PoP signature, as the SDK makes it (v 00): anchors RFC 6979 here to the code's.
    signature = sign(private_key(SECTION_5_7_APP_KEY), SECTION_5_7_POP_MESSAGE)
    assert signature == SECTION_5_7_POP_SIGNATURE, "RFC 6979 disagrees with the §5.7 v1 vector"
