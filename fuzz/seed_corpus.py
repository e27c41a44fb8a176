#!/usr/bin/env python3
"""Seeds the fuzz corpora from the recorded Skynet vectors.

Run from the repository root: python3 fuzz/seed_corpus.py
(reads tests/vectors, or $SKYCLUSTER_VECTORS). Request frames seed the
request-side targets, response frames the reply decoder, payloads the
lua-seri decoder.
"""
import hashlib
import json
import os
import pathlib

VECTORS = pathlib.Path(os.environ.get("SKYCLUSTER_VECTORS", "tests/vectors"))
CORPUS = pathlib.Path("fuzz/corpus")


def put(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def entry_bytes(e):
    if "hex" in e:
        return bytes.fromhex(e["hex"])
    if "frames" in e:
        return b"".join(bytes.fromhex(f) for f in e["frames"])
    return None


for e in json.loads((VECTORS / "cluster_frames.json").read_text()):
    op = e["case"]["op"]
    data = entry_bytes(e)
    if op in ("request", "push", "trace") and data is not None:
        put("wire_request_decode", data)
        put("agent_requests", data)
    elif op.startswith("response") and data is not None:
        put("wire_reply_decode", data)
    elif op == "unpack_request_rejected":
        body = bytes.fromhex(e["case"]["body_hex"])
        framed = len(body).to_bytes(2, "big") + body
        put("wire_request_decode", framed)
        put("agent_requests", framed)
    elif op == "unpack_response_rejected":
        body = bytes.fromhex(e["case"]["body_hex"])
        put("wire_reply_decode", len(body).to_bytes(2, "big") + body)

for e in json.loads((VECTORS / "luaseri.json").read_text()):
    if "hex" in e:
        put("luaseri_decode", bytes.fromhex(e["hex"]))
