#!/usr/bin/env python3
# An issuance-log verifier written from the README's description only ("meshca log", the Entries,
# Hash, Checkpoints and Files paragraphs), with Python's standard library and the openssl command
# for Ed25519. It imports nothing of meshca, so the README, not the code, is what it checks.
#
#   verify_log.py LOG_DIR [--checkpoint FILE]... [--cert PEM]...
#
# Exit 0 and "ok <entries> <head>" when every entry hashes to its `hash`, every `prev` is the hash
# before it, `seq` counts up by one, every checkpoint (the log's and each FILE) is signed by
# log-key.pub.pem under its keyId and matches the chain; with --cert, each certificate's serial, DER
# and SubjectPublicKeyInfo hashes are in an entry. Exit 1 with the first problem otherwise.
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

GENESIS = "0" * 64


def fail(message):
    print("FAILED: " + message)
    sys.exit(1)


def canonical(value):
    # Keys sorted at every level, no whitespace, strings as JSON writes them (non-ASCII kept).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pem_der(text, label):
    body = re.search(r"-----BEGIN " + label + r"-----(.*?)-----END " + label + r"-----", text, re.S)
    if not body:
        fail("no " + label + " PEM block")
    return base64.b64decode("".join(body.group(1).split()))


def openssl(args, data=None):
    r = subprocess.run(["openssl"] + args, input=data, capture_output=True)
    return r.returncode, r.stdout


def read_entries(log_dir):
    names = [n for n in os.listdir(log_dir) if re.fullmatch(r"segment-\d{6,}(\.damaged)?\.jsonl", n)]
    names.sort(key=lambda n: int(re.search(r"\d+", n).group(0)))
    entries = []
    for name in names:
        with open(os.path.join(log_dir, name), "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            fail(name + ": the last line has no newline")
        for number, line in enumerate(data.decode("utf-8").split("\n")[:-1], 1):
            entry = json.loads(line)
            if canonical(entry) != line:
                fail("%s line %d is not the canonical JSON of its entry" % (name, number))
            entries.append(entry)
    return entries


def check_chain(entries):
    prev = None
    for e in entries:
        unhashed = {k: v for k, v in e.items() if k != "hash"}
        digest = hashlib.sha256(canonical(unhashed).encode("utf-8")).hexdigest()
        if digest != e["hash"]:
            fail("seq %s does not hash to its hash" % e["seq"])
        if prev is None:
            if e["seq"] == 0 and e["prev"] != GENESIS:
                fail("seq 0 does not start from 64 zeros")
        else:
            if e["seq"] != prev["seq"] + 1:
                fail("seq %s follows seq %s" % (e["seq"], prev["seq"]))
            if e["prev"] != prev["hash"]:
                fail("seq %s: prev is not the hash of seq %s" % (e["seq"], prev["seq"]))
        prev = e


def check_checkpoint(c, key_pem_path, key_id, hashes, where):
    message = "meshca-issuance-log-checkpoint/v1\n%d\n%s\n%s\n%s\n" % (c["size"], c["head"], c["time"], c["keyId"])
    if c["keyId"] != key_id:
        fail(where + ": keyId is not the SHA-256 of log-key.pub.pem's DER")
    with tempfile.TemporaryDirectory() as tmp:
        msg_path = os.path.join(tmp, "msg")
        sig_path = os.path.join(tmp, "sig")
        with open(msg_path, "wb") as f:
            f.write(message.encode("utf-8"))
        with open(sig_path, "wb") as f:
            f.write(base64.b64decode(c["signature"]))
        code, _ = openssl(["pkeyutl", "-verify", "-pubin", "-inkey", key_pem_path, "-rawin", "-in", msg_path, "-sigfile", sig_path])
    if code != 0:
        fail(where + ": the Ed25519 signature does not verify with log-key.pub.pem")
    expected = hashes.get(c["size"] - 1) if c["size"] > 0 else GENESIS
    if expected != c["head"]:
        fail(where + ": the log's entry %d is not the head it signed" % (c["size"] - 1))


def check_certificate(path, entries):
    with open(path) as f:
        der = pem_der(f.read(), "CERTIFICATE")
    code, out = openssl(["x509", "-in", path, "-noout", "-serial"])
    serial = out.decode().strip().split("=", 1)[1].lower().lstrip("0") or "0"
    code, spki_pem = openssl(["x509", "-in", path, "-noout", "-pubkey"])
    code, spki_der = openssl(["pkey", "-pubin", "-outform", "DER"], spki_pem)
    want = {
        "serial": serial,
        "certSha256": hashlib.sha256(der).hexdigest(),
        "spkiSha256": hashlib.sha256(spki_der).hexdigest(),
    }
    if not any(all(e.get(k) == v for k, v in want.items()) for e in entries):
        fail(path + ": no entry has serial %(serial)s, certSha256 %(certSha256)s and spkiSha256 %(spkiSha256)s" % want)


def main(argv):
    log_dir = argv[0]
    held = [argv[i + 1] for i, a in enumerate(argv) if a == "--checkpoint"]
    certs = [argv[i + 1] for i, a in enumerate(argv) if a == "--cert"]
    entries = read_entries(log_dir)
    check_chain(entries)
    hashes = {e["seq"]: e["hash"] for e in entries}
    key_path = os.path.join(log_dir, "log-key.pub.pem")
    with open(key_path) as f:
        key_id = hashlib.sha256(pem_der(f.read(), "PUBLIC KEY")).hexdigest()
    checkpoints = []
    cp_path = os.path.join(log_dir, "checkpoints.jsonl")
    if os.path.exists(cp_path):
        with open(cp_path) as f:
            checkpoints += [(json.loads(l), "checkpoints.jsonl line %d" % n) for n, l in enumerate(f, 1) if l.strip()]
    for path in held:
        with open(path) as f:
            checkpoints.append((json.loads(f.read()), path))
    if not checkpoints:
        fail("no checkpoint to check")
    for c, where in checkpoints:
        check_checkpoint(c, key_path, key_id, hashes, where)
    for path in certs:
        check_certificate(path, entries)
    print("ok %d %s %d" % (len(entries), entries[-1]["hash"] if entries else GENESIS, len(checkpoints)))


main(sys.argv[1:])
