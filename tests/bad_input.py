#!/usr/bin/env python3
"""tests/bad_input.py URL - the bad-input table of issue 7 against a running
learngened: each hostile request must get the right 4xx with a JSON error
(code and message, the field where one is to blame) and the daemon must go
on serving (/healthz after every row). Prints one line per row; exits 1 on
the first mismatch. Used by tests/test_bad_input.sh."""
import gzip
import http.client
import json
import socket
import struct
import sys
import urllib.parse

URL = urllib.parse.urlparse(sys.argv[1])
SRC = sys.argv[2]


def request(method, path, body=None, headers=None, raw=None):
    """One request on a fresh connection: (status, headers, body bytes)."""
    if raw is not None:  # bytes written as is (malformed requests)
        s = socket.create_connection((URL.hostname, URL.port), timeout=30)
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head = data.split(b"\r\n", 1)[0].decode(errors="replace")
        return int(head.split()[1]) if len(head.split()) > 1 else 0, {}, data
    c = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


rows = 0


def expect(name, got, status, field=None, code=None):
    global rows
    st, hdr, body = got
    ok = st in status if isinstance(status, tuple) else st == status
    err = None
    if ok and st >= 400 and hdr.get("content-type", "").startswith("application/json"):
        try:
            err = json.loads(body)["error"]
            ok = bool(err.get("code")) and bool(err.get("message"))
            if field is not None:
                ok = ok and err.get("field") == field
            if code is not None:
                ok = ok and err.get("code") == code
        except (ValueError, KeyError, TypeError):
            ok = False
    live = request("GET", "/healthz")[0] == 200
    rows += 1
    print(f"{'ok ' if ok and live else 'BAD'} {status!s:>8} {name}: got {st} {body[:160]!r}")
    if not ok:
        sys.exit(f"FAIL: {name}: expected {status} field={field} code={code}, got {st}: {body[:300]!r}")
    if not live:
        sys.exit(f"FAIL: the daemon stopped serving after: {name}")


def st_file(tensors, meta=None, header_len=None, pad=b""):
    """A safetensors file: tensors = [(name, dtype, shape, data_bytes)]."""
    hdr, off, data = {}, 0, b""
    for name, dt, shape, blob in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(blob)]}
        off += len(blob)
        data += blob
    if meta:
        hdr["__metadata__"] = meta
    h = json.dumps(hdr).encode()
    return struct.pack("<Q", len(h) if header_len is None else header_len) + h + pad + data


gene = open(f"{SRC}/data/tleg-fmnist.safetensors", "rb").read()
n = struct.unpack("<Q", gene[:8])[0]
header = json.loads(gene[8:8 + n])
meta = header.get("__metadata__", {})
_, _, body = request("GET", "/v1/learngenes")
gene_id = json.loads(body)["learngenes"][0]["id"]
_, _, body = request("POST", "/v1/models", json.dumps({"from": gene_id, "depth": 2}))
model_id = json.loads(body)["id"]
_, _, body = request("GET", f"/v1/models/{model_id}/weights")
size = len(body)

# --- safetensors uploads
up = lambda b: request("POST", "/v1/learngenes", b, {"Content-Type": "application/octet-stream"})
expect("truncated safetensors", up(gene[: len(gene) // 2]), 400, "body")
expect("header length past the end", up(struct.pack("<Q", 10**6) + b"{}"), 400, "body")
expect("header length overflow 2^64-1", up(struct.pack("<Q", 2**64 - 1) + b"{}"), 400, "body")
expect("header length 0", up(struct.pack("<Q", 0)), 400, "body")
expect("header not JSON", up(struct.pack("<Q", 4) + b"abcd"), 400, "body")
expect("overlapping tensors", up(st_file([("a", "F32", [2], b"\0" * 8), ("b", "F32", [2], b"\0" * 8)])
                                 .replace(b'"data_offsets": [8, 16]', b'"data_offsets": [4, 12]')), 400, "body")
expect("offsets past the data", up(st_file([("a", "F32", [4], b"\0" * 8)])), 400, "body")
expect("shape/byte count mismatch", up(st_file([("a", "F32", [3], b"\0" * 8)])), 400, "body")
expect("unknown dtype", up(st_file([("a", "F64", [1], b"\0" * 8)])), 400, "body")
expect("valid safetensors, not a learngene", up(st_file([("a", "F32", [2], b"\0" * 8)])), 400, "body")
# NaN weights: the real learngene with one value replaced by NaN
first = min(v["data_offsets"][0] for k, v in header.items() if k != "__metadata__")
nan_gene = bytearray(gene)
nan_gene[8 + n + first: 8 + n + first + 4] = struct.pack("<f", float("nan"))
expect("NaN weights", up(bytes(nan_gene)), 400, "body")
inf_gene = bytearray(gene)
inf_gene[8 + n + first: 8 + n + first + 4] = struct.pack("<f", float("inf"))
expect("Inf weights", up(bytes(inf_gene)), 400, "body")
pool = open(f"{SRC}/data/pool-fmnist.safetensors", "rb").read()
pn = struct.unpack("<Q", pool[:8])[0]
ph = json.loads(pool[8:8 + pn])
stitch = next(v for k, v in ph.items() if k.startswith("stitches.") and k.endswith(".weight"))
nan_pool = bytearray(pool)
at = 8 + pn + stitch["data_offsets"][0] + 4
nan_pool[at: at + 4] = struct.pack("<f", float("nan"))
expect("NaN in a pool's stitch", request("POST", "/v1/pools", bytes(nan_pool)), 400, "body")
expect("a pool posted as a learngene", up(open(f"{SRC}/data/pool-fmnist.safetensors", "rb").read()), 400, "body")
# the daemon answers 413 from Content-Length before reading a byte of the body
expect("oversized upload (declared)", request(None, None, raw=b"POST /v1/learngenes HTTP/1.1\r\nHost: x\r\n"
                                               b"Content-Length: 8388609\r\nConnection: close\r\n\r\n"), 413)

# --- IDX datasets
def idx(magic_dims, dims, data):
    return struct.pack(">I", 0x0800 | magic_dims) + b"".join(struct.pack(">I", d) for d in dims) + data

imgs = idx(3, [20, 28, 28], bytes(20 * 784))
labels = idx(1, [20], bytes(20))
ds = lambda a, b: request("POST", "/v1/datasets?name=bad", a + b,
                          {"Content-Type": "application/octet-stream", "X-Images-Length": str(len(a))})
expect("IDX lying dims (more images than bytes)", ds(idx(3, [2000, 28, 28], bytes(20 * 784)), labels), 400, "body")
expect("IDX dims overflow", ds(idx(3, [2**32 - 1, 2**32 - 1, 2**32 - 1], b""), labels), 400, "body")
expect("IDX bad magic", ds(b"\x12\x34\x56\x78" + imgs[4:], labels), 400, "body")
expect("IDX counts disagree", ds(imgs, idx(1, [19], bytes(19))), 400, "body")
expect("IDX truncated gzip", ds(gzip.compress(imgs)[:-20], labels), 400, "body")
expect("IDX missing X-Images-Length", request("POST", "/v1/datasets", imgs + labels,
                                               {"Content-Type": "application/octet-stream"}), 400, "X-Images-Length")
expect("IDX X-Images-Length past the body", request("POST", "/v1/datasets", imgs + labels,
                                                     {"X-Images-Length": str(10**9)}), 400, "X-Images-Length")

# --- JSON bodies
post = lambda body: request("POST", "/v1/models", body, {"Content-Type": "application/json"})
expect("duplicate keys", post(f'{{"from":"{gene_id}","depth":2,"depth":3}}'), 400)
expect("wrong type", post(f'{{"from":"{gene_id}","depth":"two"}}'), 400, "depth")
expect("wrong nested type", post('{"budget":{"flops":"many"}}'), 400, "budget.flops")
expect("unknown key", post(f'{{"from":"{gene_id}","depth":2,"colour":1}}'), 400, "colour")
expect("deep nesting", post('{"a":' * 5000 + "1" + "}" * 5000), 400, "body")
big = b'{"from":"' + b"a" * (10 * 1024 * 1024) + b'"}'
expect("10 MB string (over max_body)", request(None, None, raw=b"POST /v1/models HTTP/1.1\r\nHost: x\r\n"
                                               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(big)), 413)
expect("not an object", post("[1,2,3]"), 400, "body")
expect("empty body", post(""), 400, "body")
expect("invalid UTF-8", post(b'{"from":"\xff\xfe","depth":2}'), 400)
expect("number out of range", post(f'{{"from":"{gene_id}","depth":1e400}}'), 400)
expect("negative depth", post(f'{{"from":"{gene_id}","depth":-1}}'), 400, "depth")
expect("too deep for max_depth", post(f'{{"from":"{gene_id}","depth":200}}'), 400, "depth")

# --- raw tensor bodies
pred = lambda body, ct: request("POST", f"/v1/models/{model_id}/predict", body, {"Content-Type": ct})
expect("raw body not a multiple of an image", pred(b"\0" * 1000, "application/octet-stream"), 400, "body")
expect("raw body with NaN", pred(struct.pack("<f", float("nan")) * 784, "application/octet-stream"), 400, "body")
expect("batch over max_batch", pred(b"\0" * 784 * 65, "application/x-u8"), 413, "images")
expect("unsupported media type", pred(b"\0" * 784, "image/png"), 415, "Content-Type")
expect("JSON image of the wrong size", pred('{"images":[[0.5,0.5]]}', "application/json"), 400)

# --- Range headers
get = lambda rng: request("GET", f"/v1/models/{model_id}/weights", headers={"Range": rng})
expect("Range past the end", get(f"bytes={size}-"), 416, "Range")
st, hdr, _ = get(f"bytes={size}-")
assert hdr.get("content-range") == f"bytes */{size}", hdr
expect("Range malformed (ignored: whole file)", get("bytes=abc"), 200)
expect("Range multi-range (ignored: whole file)", get("bytes=0-1,5-6"), 200)
expect("Range backwards (ignored)", get("bytes=9-2"), 200)
expect("Range other unit (ignored)", get("items=0-1"), 200)
expect("Range suffix", get("bytes=-10"), 206)
etag = request("GET", f"/v1/models/{model_id}/weights")[1]["etag"]
expect("If-Range with the ETag: the range", request("GET", f"/v1/models/{model_id}/weights",
                                                    headers={"Range": "bytes=0-9", "If-Range": etag}), 206)
expect("If-Range with another ETag: the whole file", request("GET", f"/v1/models/{model_id}/weights",
                                                             headers={"Range": "bytes=0-9", "If-Range": '"0"'}), 200)
expect("unsupported dtype", request("GET", f"/v1/models/{model_id}/weights?dtype=f64"), 400, "dtype")

# --- paths, routes and methods
expect("unknown route", request("GET", "/v1/nothing"), 404, None, "not_found")
expect("path traversal", request("GET", "/v1/models/../../etc/passwd"), 404)
expect("encoded traversal", request("GET", "/v1/models/..%2f..%2fetc%2fpasswd"), 404)
expect("id with a NUL", request("GET", "/v1/models/abc%00def"), 404)
expect("overlong id", request("GET", "/v1/models/" + "a" * 5000), 404)
expect("unknown id", request("GET", "/v1/models/" + "0" * 64), 404, "id", "not_found")
expect("wrong method", request("PUT", "/v1/models"), 405, None, "method_not_allowed")
expect("wrong method on an id", request("PATCH", f"/v1/models/{model_id}"), 405)
expect("body on a GET", request("GET", "/v1/models", b"x" * 10), 400, "body")
expect("headers over max_header", request(None, None, raw=b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                                          + b"a" * 100000 + b"\r\n\r\n"), 431)
# TLS to a plain-HTTP port: MHD answers 400 or just closes (0 = closed)
expect("not HTTP (a TLS hello)", request(None, None, raw=b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
       (0, 400))
print(f"{rows} bad inputs answered as expected; the daemon kept serving")
