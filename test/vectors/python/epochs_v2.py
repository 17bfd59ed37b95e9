#!/usr/bin/env python3
"""PROTOCOL §5.7 "Key epochs" vectors (HKDF v2 of §5.2, re-encryption of §6.10, the
per-epoch CA of §8.2), computed without the project's code.

Usage:
    python3 test/vectors/python/epochs_v2.py     # print test/vectors/protocol-5.7-epochs.json

It prints the whole vector file, byte for byte; test/unit/crypto/epochsPython.test.ts
compares that output with the file, and the TypeScript suites compare the file with the
project's code, so a change on either side fails.

Independence: every primitive comes from the `cryptography` package, never from the
project: HKDF (`cryptography...kdf.hkdf.HKDF`), HMAC-SHA256, AES-256-GCM (`AESGCM`), SHA-256,
SHA-1 and P-256 ECDSA (`ec.derive_private_key`, RFC 6979 deterministic signing via
`deterministic_signing=True`, which needs cryptography >= 44; its wheels bundle an OpenSSL
>= 3.2). The salts, the nonce rule and the certificate DER are written out here from the
spec text. Before printing, the script reproduces known v1 values (RFC 5869 A.1, §5.7
derive/data_key/sync_key/record, and the §8.3 CA certificate, fingerprint and all), so a
wrong DER writer or HKDF call cannot go unnoticed; then it parses each certificate it built
with `cryptography.x509` and verifies its self-signature.

Exit codes: 0 printed, 1 a self-test failed, 2 a missing dependency or bad usage.
"""
import base64
import json
import sys

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, hmac, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as error:  # a clear message, never a skip
    sys.stderr.write(f"epochs_v2.py: the Python package `cryptography` is missing ({error}); "
                     "install it (python3 -m pip install cryptography)\n")
    sys.exit(2)

SECRET_A = bytes(range(0x00, 0x20))  # every epoch's secret, unless said otherwise
SECRET_B = bytes(range(0x20, 0x40))  # another secret for epoch 1: the IKM matters
APP = 49
P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551


# ---------------------------------------------------------------- §5.2 v1 and v2
def hkdf(ikm, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def salt_of(app, cluster_epoch, app_epoch):
    if cluster_epoch == 0 and app_epoch == 0:
        return f"nova-kms:app:{app}"
    return f"nova-kms:v2:app:{app}:cluster-epoch:{cluster_epoch}:app-epoch:{app_epoch}"


def derive(secret, app, path, context, length, cluster_epoch=0, app_epoch=0):
    info = path if context == "" else f"{path}:{context}"
    return hkdf(secret, salt_of(app, cluster_epoch, app_epoch).encode(), info.encode(), length)


def data_key(secret, app, cluster_epoch=0):
    return derive(secret, app, "data_key", "", 32, cluster_epoch, 0)


def sync_key(secret, cluster_epoch=0):
    return derive(secret, 0, "sync_hmac_key", "", 32, cluster_epoch, 0)


def reencrypt_nonce_key(secret, app, cluster_epoch):
    return derive(secret, app, "data_reencrypt_nonce", "", 32, cluster_epoch, 0)


def hmac_sha256(key, message):
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def record(key, nonce, plaintext):  # §5.3
    return nonce + AESGCM(key).encrypt(nonce, plaintext, None)


def reencrypt(from_key, to_key, nonce_key, from_epoch, old_value):  # §6.10
    plaintext = AESGCM(from_key).decrypt(old_value[:12], old_value[12:], None)
    nonce = hmac_sha256(nonce_key, f"{from_epoch}:".encode() + old_value)[:12]
    return nonce, record(to_key, nonce, plaintext)


# ---------------------------------------------------------------- DER, for §8.2
def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def seq(*children):
    return tlv(0x30, b"".join(children))


def oid(dotted):
    arcs = [int(arc) for arc in dotted.split(".")]
    body = b""
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        groups = [arc & 0x7f]
        arc >>= 7
        while arc:
            groups.insert(0, 0x80 | (arc & 0x7f))
            arc >>= 7
        body += bytes(groups)
    return tlv(0x06, body)


def uint(value):
    content = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return tlv(0x02, b"\x00" + content if content[0] & 0x80 else content)


def rdn(attribute_oid, value):
    return tlv(0x31, seq(oid(attribute_oid), value))


def ca_name(kms_app_id, epoch):  # §8.2 item 4, with the epoch RDN of HKDF v2
    rdns = [rdn("2.5.4.10", tlv(0x0c, b"Nova KMS")),
            rdn("2.5.4.11", tlv(0x0c, f"kms-app-{kms_app_id}".encode())),
            rdn("2.5.4.3", tlv(0x0c, b"Nova KMS CA"))]
    if epoch != 0:
        rdns.append(rdn("2.5.4.46", tlv(0x13, f"epoch-{epoch}".encode())))  # dnQualifier, PrintableString
    return seq(*rdns)


def ca_key(secret):  # §8.1
    seed = hkdf(secret, b"nova-kms:ca", b"ca-root-p256", 48)
    d = int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1
    return seed, d, ec.derive_private_key(d, ec.SECP256R1())


def sha(algorithm, data):
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def ca_certificate(secret, kms_app_id, epoch):  # §8.2
    seed, d, key = ca_key(secret)
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    spki = seq(seq(oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")), tlv(0x03, b"\x00" + point))
    serial = bytearray(sha(hashes.SHA256(), spki)[:16])
    serial[0] &= 0x7f
    if serial[0] == 0:
        serial[0] = 1
    ski = sha(hashes.SHA1(), point)
    algorithm = seq(oid("1.2.840.10045.4.3.2"))
    name = ca_name(kms_app_id, epoch)
    extensions = seq(
        seq(oid("2.5.29.19"), tlv(0x01, b"\xff"), tlv(0x04, seq(tlv(0x01, b"\xff"), uint(0)))),
        seq(oid("2.5.29.15"), tlv(0x01, b"\xff"), tlv(0x04, bytes.fromhex("03020106"))),
        seq(oid("2.5.29.14"), tlv(0x04, tlv(0x04, ski))))
    tbs = seq(tlv(0xa0, uint(2)), tlv(0x02, bytes(serial)), algorithm, name,
              seq(tlv(0x17, b"250101000000Z"), tlv(0x17, b"450101000000Z")), name, spki, tlv(0xa3, extensions))
    r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))
    if s > P256_ORDER // 2:
        s = P256_ORDER - s  # low-S (§8.2 "Signature")
    der = seq(tbs, algorithm, tlv(0x03, b"\x00" + seq(uint(r), uint(s))))
    body = base64.b64encode(der).decode()
    pem = "-----BEGIN CERTIFICATE-----\n" + "".join(
        body[i:i + 64] + "\n" for i in range(0, len(body), 64)) + "-----END CERTIFICATE-----\n"
    check_certificate(der, key, name)
    return {"seed": seed.hex(), "d": f"{d:064x}", "ski": ski.hex(), "serial": bytes(serial).hex(),
            "subject_der": name.hex(), "der_length": len(der), "der_sha256": sha(hashes.SHA256(), der).hex(),
            "pem": pem}


def check_certificate(der, key, name):
    """cryptography's own X.509 parser reads the bytes back; the self-signature verifies."""
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.public_bytes() == name and cert.issuer.public_bytes() == name, "name"
    key.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0, "basicConstraints"


# ---------------------------------------------------------------- self-tests (known v1 values)
def expect(label, actual, expected):
    if actual != expected:
        sys.stderr.write(f"epochs_v2.py: self-test failed: {label}: got {actual}, expected {expected}\n")
        sys.exit(1)


def self_test():
    expect("RFC 5869 A.1", hkdf(bytes([0x0b] * 22), bytes(range(13)), bytes(range(0xf0, 0xfa)), 42).hex(),
           "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    expect("§5.7 derive(49,wallet/root)", derive(SECRET_A, 49, "wallet/root", "", 32).hex(),
           "56bc3d5270b0d62355e87f685999950f112c293b3e5dae7e80528761e8741165")
    expect("§5.7 derive(49,wallet/root,session-a)", derive(SECRET_A, 49, "wallet/root", "session-a", 32).hex(),
           "51964edd04f9db9101734eff51df94176c34be12a6b01bdae5ea9c406c6b0c01")
    expect("§5.7 data_key(49)", data_key(SECRET_A, 49).hex(),
           "ec28d514ec4af4502bb603d8b8905165e1bcb428a47d6c342e28d00b58064c2c")
    expect("§5.7 sync_key", sync_key(SECRET_A).hex(),
           "78dd59b0dd0507447c3e734ff942177f2dffce9d2e17201aa3ceb3cfc4358356")
    expect("§5.7 record", record(data_key(SECRET_A, 49), bytes(range(12)), b"hello").hex(),
           "000102030405060708090a0b10f35f40c9ece13722398fb6f833b4876f39cc1149")
    expect("§8.3 CA fingerprint", ca_certificate(SECRET_A, 49, 0)["der_sha256"],
           "a5864b86b624199180526f4469baf26ed213117b13edc4badc562fee52fd6a7a")


# ---------------------------------------------------------------- the vectors
def derive_case(secret, cluster_epoch, app_epoch, context):
    label = f"derive_({cluster_epoch},{app_epoch})(49,\"signing\",\"{context}\",32)"
    if secret != SECRET_A:
        label += f", secret_{cluster_epoch} = {secret[0]:02x}..{secret[-1]:02x}"
    return {"name": label, "kind": "derive_epoch", "master_secret": secret.hex(),
            "cluster_epoch": cluster_epoch, "app_epoch": app_epoch, "app_id": APP, "path": "signing",
            "context": context, "length": 32, "salt": salt_of(APP, cluster_epoch, app_epoch),
            "expected": derive(secret, APP, "signing", context, 32, cluster_epoch, app_epoch).hex()}


def build_vectors():
    cases = [derive_case(SECRET_A, c, a, context)
             for c, a in [(0, 0), (0, 1), (1, 0), (1, 3)] for context in ["", "v1"]]
    cases.append(derive_case(SECRET_B, 1, 0, ""))
    cases.append({"name": "data_key(49, 1)", "kind": "data_key_epoch", "master_secret": SECRET_A.hex(),
                  "app_id": APP, "cluster_epoch": 1, "expected": data_key(SECRET_A, APP, 1).hex()})
    cases.append({"name": "sync_key(1)", "kind": "sync_key_epoch", "master_secret": SECRET_A.hex(),
                  "cluster_epoch": 1, "expected": sync_key(SECRET_A, 1).hex()})
    nonce_key = reencrypt_nonce_key(SECRET_A, APP, 1)
    cases.append({"name": "reencrypt_nonce_key(49, 1)", "kind": "reencrypt_nonce_key",
                  "master_secret": SECRET_A.hex(), "app_id": APP, "cluster_epoch": 1, "expected": nonce_key.hex()})
    old_value = record(data_key(SECRET_A, APP, 0), bytes(range(12)), b"hello")  # the §5.7 record vector
    nonce, new_value = reencrypt(data_key(SECRET_A, APP, 0), data_key(SECRET_A, APP, 1), nonce_key, 0, old_value)
    cases.append({"name": "reencrypt record(\"hello\") from epoch 0 to epoch 1, app 49", "kind": "reencrypt_record",
                  "master_secret": SECRET_A.hex(), "app_id": APP, "from_epoch": 0, "to_epoch": 1,
                  "plaintext": "hello", "old_value": old_value.hex(), "nonce_key": nonce_key.hex(),
                  "nonce": nonce.hex(), "expected": new_value.hex()})
    for secret in (SECRET_A, SECRET_B):
        cases.append({"name": f"epoch-1 CA, secret_1 = {secret[0]:02x}..{secret[-1]:02x}, KMS_APP_ID 49",
                      "kind": "ca_epoch", "master_secret": secret.hex(), "kms_app_id": APP, "epoch": 1,
                      **ca_certificate(secret, APP, 1)})
    return {
        "source": "PROTOCOL.md §5.7 \"Key epochs\" (§5.2 HKDF v2, §6.10 re-encryption nonce, §8.2 per-epoch CA "
                  "with dnQualifier=epoch-<c>); computed by the project's code (test/unit/crypto/"
                  "protocol-5.7-epochs.test.ts, test/unit/ca/protocol-8.3-ca-epochs.test.ts) and independently by "
                  "test/vectors/python/epochs_v2.py (`cryptography`'s HKDF, HMAC, AES-GCM and RFC 6979 P-256 ECDSA). "
                  "Every epoch's secret is bytes 00..1f unless a case says otherwise; app 49.",
        "cases": cases,
    }


def main(argv):
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    try:
        self_test()
        vectors = build_vectors()
    except UnsupportedAlgorithm as error:
        sys.stderr.write(f"epochs_v2.py: this cryptography/OpenSSL cannot sign deterministically (RFC 6979): {error}\n")
        return 2
    print(json.dumps(vectors, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
