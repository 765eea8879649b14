#!/usr/bin/env python3
"""tests/faults.py DAEMON SRCDIR WORKDIR [ROUNDS] - fault injection: kill -9
learngened at random moments while uploads, downloads and fine-tune jobs are
in flight, restart it on the same state dir, and check after every crash:
  - the SQLite store passes PRAGMA integrity_check;
  - every acknowledged upload (201/200 received) is there byte for byte;
  - nothing half-written: every stored learngene's bytes hash to its id;
  - every job is queued, running or finished, and a failed one says why;
and at the end that every job finishes (resumed from its checkpoint, or
failed with a reason). Exit 0 when all hold."""
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time

DAEMON, SRC, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 8
rng = random.Random(int(os.environ.get("LG_FAULT_SEED", "1")))
STATE = os.path.join(WORK, "state")
DB = os.path.join(STATE, "learngened.db")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    PORT = s.getsockname()[1]


def req(method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def start():
    log = open(os.path.join(WORK, "daemon.log"), "ab")
    p = subprocess.Popen([DAEMON, "--listen", f"127.0.0.1:{PORT}", "--state-dir", STATE, "--data-dir",
                          f"{SRC}/data", "--set", "workers=1", "--set", "blas_threads=1", "--set",
                          "checkpoint_every=5", "--set", "max_upload=16M"], stderr=log)
    for _ in range(300):
        try:
            if req("GET", "/readyz", timeout=2)[0] == 200:
                return p
        except OSError:
            pass
        if p.poll() is not None:
            sys.exit(f"FAIL: the daemon exited {p.returncode} on start (see {WORK}/daemon.log)")
        time.sleep(0.05)
    sys.exit("FAIL: the daemon did not become ready")


def variant(base, nonce):
    """The bundled learngene with one more metadata entry: new bytes, new id."""
    n = struct.unpack("<Q", base[:8])[0]
    h = json.loads(base[8:8 + n])
    h["__metadata__"]["nonce"] = nonce
    hb = json.dumps(h, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + base[8 + n:]


base = open(f"{SRC}/data/tleg-fmnist.safetensors", "rb").read()
acked = {}  # id -> bytes, uploads the daemon acknowledged
failures = []


def uploader(stop, round_):
    k = 0
    while not stop.is_set():
        body = variant(base, f"r{round_}-{k}-{rng.random()}")
        k += 1
        try:
            st, _, data = req("POST", "/v1/learngenes", body, {"Content-Type": "application/octet-stream"})
        except OSError:
            return  # the daemon died mid-upload: not acknowledged
        if st in (200, 201):
            acked[json.loads(data)["id"]] = body
        else:
            failures.append(f"upload answered {st}: {data[:200]!r}")


def downloader(stop, model):
    while not stop.is_set():
        try:
            st, hdr, data = req("GET", f"/v1/models/{model}/weights?dtype={rng.choice(['f32', 'f16', 'bf16'])}")
        except (OSError, http.client.HTTPException):
            return
        if st == 200 and hashlib.sha256(data).hexdigest() != hdr.get("x-content-sha256"):
            failures.append("a complete download does not match its X-Content-SHA256")


def check_store(p_round):
    con = sqlite3.connect(DB)
    res = con.execute("PRAGMA integrity_check").fetchall()
    con.close()
    if res != [("ok",)]:
        sys.exit(f"FAIL: round {p_round}: integrity_check says {res}")


def check_contents(round_):
    st, _, data = req("GET", "/v1/learngenes")
    genes = {g["id"] for g in json.loads(data)["learngenes"]}
    for gid, body in acked.items():
        if gid not in genes:
            sys.exit(f"FAIL: round {round_}: acknowledged upload {gid[:12]} is gone")
        st, _, got = req("GET", f"/v1/learngenes/{gid}/weights")
        if got != body:
            sys.exit(f"FAIL: round {round_}: upload {gid[:12]} came back different")
    for gid in genes:  # no half-written file: content-addressed bytes hash to their id
        st, _, got = req("GET", f"/v1/learngenes/{gid}/weights")
        if hashlib.sha256(got).hexdigest() != gid:
            sys.exit(f"FAIL: round {round_}: stored learngene {gid[:12]} does not hash to its id")
    st, _, data = req("GET", "/v1/jobs")
    for j in json.loads(data)["jobs"]:
        if j["state"] not in ("queued", "running", "succeeded", "failed", "cancelled"):
            sys.exit(f"FAIL: job {j['id'][:12]} in state {j['state']}")
        if j["state"] == "failed" and not j["error"]:
            sys.exit(f"FAIL: job {j['id'][:12]} failed without a reason")
    return len(genes)


def main():
    p = start()
    st, _, data = req("GET", "/v1/learngenes")
    gene = json.loads(data)["learngenes"][0]["id"]
    st, _, data = req("POST", "/v1/models", json.dumps({"from": gene, "depth": 6}))
    model = json.loads(data)["id"]
    st, _, data = req("GET", "/v1/datasets")
    train = [d["id"] for d in json.loads(data)["datasets"] if d["name"] == "fashion-mnist-train"]
    jobs = []
    for r in range(ROUNDS):
        if train and r % 3 == 0:
            ft = {"from": gene, "depth": 2, "classes": 5, "seed": r,
                  "finetune": {"dataset": train[0], "classes": [5, 6, 7, 8, 9], "per_class": 60, "epochs": 4,
                               "batch": 16}}
            st, _, data = req("POST", "/v1/models", json.dumps(ft))
            if st != 202:
                sys.exit(f"FAIL: fine-tune request answered {st}: {data[:200]!r}")
            jobs.append(json.loads(data)["job"]["id"])
        stop = threading.Event()
        threads = [threading.Thread(target=uploader, args=(stop, r)),
                   threading.Thread(target=downloader, args=(stop, model))]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.2, 1.5))
        p.send_signal(signal.SIGKILL)  # the crash
        p.wait()
        stop.set()
        for t in threads:
            t.join()
        check_store(r)
        p = start()
        n = check_contents(r)
        print(f"round {r}: killed after a random pause; {len(acked)} acknowledged uploads intact, "
              f"{n} learngenes all hashing to their ids, store ok")
    # every job finishes: resumed from its checkpoint or failed with a reason
    deadline = time.time() + 240
    while time.time() < deadline:
        st, _, data = req("GET", "/v1/jobs")
        states = {j["id"]: j for j in json.loads(data)["jobs"]}
        if all(states[j]["state"] in ("succeeded", "failed", "cancelled") for j in jobs):
            break
        time.sleep(0.5)
    else:
        sys.exit(f"FAIL: jobs still unfinished: {[(j[:12], states[j]['state']) for j in jobs]}")
    for j in jobs:
        print(f"job {j[:12]}: {states[j]['state']}, step {states[j]['step']}/{states[j]['total_steps']}, "
              f"accuracy {states[j]['accuracy']}, error {states[j]['error']}")
        if states[j]["state"] == "failed" and not states[j]["error"]:
            sys.exit("FAIL: a job failed without a reason")
    resumed = open(os.path.join(WORK, "daemon.log")).read().count("event=job_resumed")
    print(f"{resumed} job resumptions from checkpoints in the log")
    p.send_signal(signal.SIGTERM)
    if p.wait(timeout=60) != 0:
        sys.exit("FAIL: the daemon did not exit 0 on SIGTERM")
    check_store("final")
    if failures:
        sys.exit("FAIL: " + "; ".join(failures[:5]))
    print(f"PASS: {ROUNDS} kill -9 rounds, {len(acked)} acknowledged uploads intact, {len(jobs)} jobs finished")


main()
