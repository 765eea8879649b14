#!/bin/sh
# test_units.sh - what operations rely on, checked against the built daemon:
#   1. learngened.conf(5) documents every option of `learngened --list-options`
#      with its type, default, bounds, reload behaviour and help, and no other;
#      learngened(8) describes every option of `learngened --help`, and no
#      other; etc/learngened.conf lists every option at its default;
#   2. --check-config accepts etc/learngened.conf (and every option in it
#      uncommented), refuses broken files with exit 1 naming line and option;
#   3. both man pages render without a groff or man warning;
#   4. systemd-analyze verify passes on the units (ExecStart pointed at the
#      built daemon, the man pages on MANPATH), the unit has what the issue
#      asks for, and its ExecStartPre= command passes;
#   5. the sandbox holds for the real daemon under a workload (grow,
#      predict, download, fine-tune, reload, stop): it runs under
#      PR_SET_MDWE (what MemoryDenyWriteExecute=yes enforces), maps nothing
#      writable and executable, never asks for PROT_EXEC in mprotect or for
#      W+X in mmap (systemd's seccomp form of the same setting), and makes
#      only system calls of @system-service (SystemCallFilter=);
#   6. the systemd protocol: socket activation (systemd-socket-activate),
#      READY=1, STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1.
# Parts whose tool is missing (man, groff, systemd-analyze, strace, a kernel
# with PR_SET_MDWE) are skipped with a note. About 12 s. Exit 77 without
# python3.
set -u
: "${LG_BUILDDIR:=.}" "${LG_SRCDIR:=.}"
bin="$LG_BUILDDIR/daemon/learngened"
conf5="$LG_BUILDDIR/man/learngened.conf.5"
man8="$LG_BUILDDIR/man/learngened.8"
unit="$LG_BUILDDIR/systemd/learngened.service"
socket="$LG_SRCDIR/systemd/learngened.socket"
sample="$LG_SRCDIR/etc/learngened.conf"
py="${PYTHON3:-python3}"
[ -n "$py" ] || py=python3
command -v "$py" >/dev/null 2>&1 || { echo "skip: needs python3"; exit 77; }
for f in "$bin" "$conf5" "$man8" "$unit" "$socket" "$sample"; do
    [ -e "$f" ] || { echo "FAIL: $f does not exist (run make first)"; exit 1; }
done

tmp=$(mktemp -d)
fails=0
dpid=
npid=
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
note() { echo "note: $1"; }
cleanup() {
    [ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null
    [ -n "$npid" ] && kill "$npid" 2>/dev/null
    wait 2>/dev/null
    if [ "$fails" = 0 ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$bin" --list-options >"$tmp/options" || { echo "FAIL: learngened --list-options"; exit 1; }
n=$(wc -l <"$tmp/options")
[ "$n" -gt 10 ] && ok "--list-options prints $n options" || bad "--list-options printed $n lines"

# ------------------------------------------------------- 1. documentation drift
cat >"$tmp/drift.py" <<'EOF'
# drift.py OPTIONS CONF5 MAN8 HELP SAMPLE: prints "ok: …" / "FAIL: …" lines.
import re, sys
opts_path, conf5, man8, help_path, sample = sys.argv[1:6]
fails = 0
def ok(m): print("ok: " + m)
def bad(m):
    global fails
    fails += 1
    print("FAIL: " + m)

def deroff(s):
    s = s.replace("\\-", "-").replace("\\(dq", '"').replace("\\(aq", "'").replace("\\(mu", "x")
    s = re.sub(r"\\f[BIRP]", "", s)
    return s.replace("\\&", "").replace("\\e", "\\").replace("\\%", "")

opts = []
for line in open(opts_path):
    name, typ, d, mn, mx, live, vals, hlp = line.rstrip("\n").split("\t")
    opts.append(dict(name=name, type=typ, default=d, min=mn, max=mx, live=live == "live", values=vals, help=hlp))
names = {o["name"] for o in opts}

def expected_entry(o):  # what to paste into man/learngened.conf.5.in
    lit = lambda v: v.replace("-", "\\-").replace('"', "\\(dq")
    e = [".TP", "\\fB%s\\fR = \\fI%s\\fR" % (o["name"], o["type"]), o["help"], ".br",
         "Default: \\fB%s\\fR." % lit(o["default"])]
    if o["min"] != "-":
        e.append("Range %s..%s." % (lit(o["min"]), lit(o["max"])))
    if o["values"] != "-":
        e.append("One of %s." % o["values"])
    e.append("Applied on reload." if o["live"] else "Needs a restart.")
    return "\n".join(e)

# --- learngened.conf(5): entries ".TP" + "NAME = TYPE" in OPTIONS
lines = open(conf5).read().split("\n")
entries, section, i = {}, "", 0
while i < len(lines):
    l = lines[i]
    if l.startswith(".SH"):
        section = l[3:].strip().strip('"')
    if section == "OPTIONS" and l.startswith(".TP") and i + 1 < len(lines):
        tag = deroff(lines[i + 1]).strip()
        m = re.fullmatch(r"([a-z_0-9]+) = (\S+)", tag)
        if m:
            body, j = [], i + 2
            while j < len(lines) and not re.match(r"\.(TP|SH|SS|PP|P|LP)\b", lines[j]):
                if not lines[j].startswith("."):
                    body.append(deroff(lines[j]))
                j += 1
            entries[m.group(1)] = (m.group(2), " ".join(" ".join(body).split()))
    i += 1
for o in opts:
    name = o["name"]
    if name not in entries:
        bad("learngened.conf(5) lacks option %s; add to man/learngened.conf.5.in:\n%s" % (name, expected_entry(o)))
        continue
    typ, text = entries[name]
    want = [("type", typ == o["type"], typ)]
    want.append(("help", o["help"] in text, None))
    want.append(("default", ("Default: %s." % o["default"]) in text, None))
    if o["min"] != "-":
        want.append(("bounds", ("Range %s..%s." % (o["min"], o["max"])) in text, None))
    if o["values"] != "-":
        want.append(("values", ("One of %s." % o["values"]) in text, None))
    want.append(("reload", ("Applied on reload" if o["live"] else "Needs a restart") in text, None))
    wrong = [w for w, good, _ in want if not good]
    if wrong:
        bad("learngened.conf(5), option %s: wrong %s; the entry should read:\n%s" % (name, ", ".join(wrong), expected_entry(o)))
for name in entries:
    if name not in names:
        bad("learngened.conf(5) documents %s, which is not an option" % name)
if not fails:
    ok("learngened.conf(5) documents all %d options as the table has them, and no other" % len(opts))

# --- learngened(8) against --help: long options, both ways
f0 = fails
helptext = open(help_path).read()
in_help = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", helptext))
in_help.add("--help")  # -h/--help prints the usage; the usage need not list itself
text8 = deroff(open(man8).read())
m = re.search(r"^\.SH OPTIONS$(.*?)^\.SH ", text8, re.M | re.S)
opts8 = m.group(1) if m else ""
in_man = set()
for l in opts8.split("\n"):
    if l.startswith(".TP"):
        continue
    if l.startswith((".B", ".I", ".R")):
        in_man |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", l))
for o in sorted(in_help - in_man):
    bad("learngened(8) OPTIONS does not describe %s (in learngened --help)" % o)
for o in sorted(in_man - in_help):
    bad("learngened(8) describes %s, which learngened --help does not list" % o)
for o in ("--check-config", "--listen", "--state-dir", "--set", "--foreground", "--version", "--list-options"):
    if o not in in_man:
        bad("learngened(8) lacks %s" % o)
for sec in ("SYNOPSIS", "OPTIONS", "SIGNALS", "SYSTEMD", "FILES", "EXIT STATUS"):
    if not re.search(r"^\.SH %s$" % sec, text8, re.M):
        bad("learngened(8) has no %s section" % sec)
if fails == f0:
    ok("learngened(8) describes the %d long options of --help and has its sections" % len(in_help))

# --- etc/learngened.conf: "#name = default", help, bounds, reload; no other
f0 = fails
text = open(sample).read()
blocks = {}
for block in re.split(r"\n\s*\n", text):
    m = re.search(r"^#?\s*([a-z_0-9]+) = (.*)$", block, re.M)
    if m and not block.startswith("# learngened.conf"):
        blocks[m.group(1)] = (m.group(2).strip(), " ".join(l.lstrip("#").strip() for l in block.split("\n")))
datadir = next(o["default"] for o in opts if o["name"] == "data_dir") if "data_dir" in names else None
for o in opts:
    name = o["name"]
    if name not in blocks:
        bad("etc/learngened.conf lacks option %s (#%s = %s)" % (name, name, o["default"]))
        continue
    value, comment = blocks[name]
    want = o["default"]
    if name == "data_dir" and value == "/usr/share/learngened":
        want = value  # the sample shows the Debian package's path and says so
    if value != want:
        bad("etc/learngened.conf: %s = %s, the default is %s" % (name, value, o["default"]))
    if o["help"] not in comment:
        bad("etc/learngened.conf: the comment of %s lacks its help: %s" % (name, o["help"]))
    if o["min"] != "-" and ("Range %s..%s." % (o["min"], o["max"])) not in comment:
        bad("etc/learngened.conf: the comment of %s lacks 'Range %s..%s.'" % (name, o["min"], o["max"]))
    if o["values"] != "-" and ("One of %s." % o["values"]) not in comment:
        bad("etc/learngened.conf: the comment of %s lacks 'One of %s.'" % (name, o["values"]))
    if ("Applied on reload" if o["live"] else "Needs a restart") not in comment:
        bad("etc/learngened.conf: the comment of %s says the wrong reload behaviour" % name)
for name in blocks:
    if name not in names:
        bad("etc/learngened.conf sets %s, which is not an option" % name)
if fails == f0:
    ok("etc/learngened.conf lists all %d options at their defaults with help, bounds and reload behaviour" % len(opts))
sys.exit(1 if fails else 0)
EOF
"$bin" --help >"$tmp/help" 2>&1
"$py" "$tmp/drift.py" "$tmp/options" "$conf5" "$man8" "$tmp/help" "$sample" >"$tmp/drift.out" 2>&1
cat "$tmp/drift.out"
fails=$((fails + $(grep -c '^FAIL' "$tmp/drift.out")))
grep -q '^ok: learngened.conf(5)' "$tmp/drift.out" || grep -q '^FAIL' "$tmp/drift.out" ||
    bad "drift.py did not run: $(cat "$tmp/drift.out")"

# ---------------------------------------------------------- 2. --check-config
if "$bin" --check-config -c "$sample" >"$tmp/dump" 2>"$tmp/err"; then
    ok "--check-config accepts etc/learngened.conf"
else
    bad "--check-config on etc/learngened.conf: $(cat "$tmp/err")"
fi
"$bin" --check-config >"$tmp/defaults" 2>/dev/null
cmp -s "$tmp/dump" "$tmp/defaults" && ok "etc/learngened.conf as shipped is the defaults" ||
    bad "etc/learngened.conf as shipped differs from the defaults: $(diff "$tmp/defaults" "$tmp/dump" | tr '\n' ' ')"
# every option uncommented: each value it shows must be valid, and the default
sed 's/^#\([a-z_0-9]* = \)/\1/' "$sample" >"$tmp/uncommented.conf"
if "$bin" --check-config -c "$tmp/uncommented.conf" >"$tmp/dump2" 2>"$tmp/err"; then
    ok "--check-config accepts etc/learngened.conf with every option uncommented"
    grep -v '^data_dir = ' "$tmp/dump2" >"$tmp/a"
    grep -v '^data_dir = ' "$tmp/defaults" >"$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" && ok "every value in etc/learngened.conf is the default (data_dir aside)" ||
        bad "uncommented etc/learngened.conf differs from the defaults: $(diff "$tmp/b" "$tmp/a" | tr '\n' ' ')"
else
    bad "--check-config on etc/learngened.conf uncommented: $(cat "$tmp/err")"
fi

# broken files: exit 1, the message names the file, the line and the option
broken() { # description expected-message-part file-text
    printf '%b' "$3" >"$tmp/broken.conf"
    "$bin" --check-config -c "$tmp/broken.conf" >/dev/null 2>"$tmp/err"
    e=$?
    if [ "$e" = 1 ] && grep -qF "broken.conf:$2" "$tmp/err"; then
        ok "--check-config refuses $1: $(cat "$tmp/err")"
    else
        bad "--check-config on $1: exit $e, want 1 with 'broken.conf:$2': $(cat "$tmp/err")"
    fi
}
broken "a value below the minimum" "3: workers = 0 is below the minimum 1" '# test\nlog_level = info\nworkers = 0\n'
broken "an unknown option" "2: unknown option 'wrokers' (did you mean 'workers'?)" '[learngened]\nwrokers = 2\n'
broken "a bad size" "1: max_body = 1X is not a size" 'max_body = 1X\n'
broken "a bad enum" "4: log_level = loud is not one of error|warn|info|debug" '\n\n\nlog_level = loud\n'
broken "an option set twice" "3: workers is set twice, on line 1 and on line 3" 'workers = 1\n\nworkers = 2\n'
broken "another section" "1: section [server] is not allowed" '[server]\nworkers = 2\n'
broken "a bad address" "1: listen = localhost is not host:port" 'listen = localhost\n'
"$bin" --check-config -c "$tmp/does-not-exist.conf" >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q 'does-not-exist.conf' "$tmp/err" && ok "--check-config on a missing file: exit 1 naming it" ||
    bad "--check-config on a missing file: $(cat "$tmp/err")"
"$bin" --check-config --set workers=0 >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q 'workers = 0 is below the minimum 1' "$tmp/err" &&
    ok "--check-config refuses a bad --set: $(cat "$tmp/err")" || bad "--check-config --set workers=0: $(cat "$tmp/err")"

# ------------------------------------------------------------- 3. man pages
for page in "$man8" "$conf5"; do
    nm=$(basename "$page")
    if command -v groff >/dev/null 2>&1; then
        groff -man -ww -z -t "$page" >"$tmp/gw" 2>&1
        [ -s "$tmp/gw" ] && bad "groff -man -ww warns on $nm: $(cat "$tmp/gw")" || ok "groff -man -ww: no warnings on $nm"
    else
        note "no groff; $nm not checked for warnings"
    fi
    if command -v man >/dev/null 2>&1; then
        LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" >"$tmp/mo" 2>"$tmp/mw"
        if [ -s "$tmp/mw" ]; then bad "man --warnings -l warns on $nm: $(cat "$tmp/mw")"; elif [ ! -s "$tmp/mo" ]; then
            bad "man -l rendered nothing for $nm"
        else ok "man --warnings -l: no warnings on $nm"; fi
    fi
    if command -v lexgrog >/dev/null 2>&1; then
        lexgrog "$page" >"$tmp/lg" 2>&1 && ok "lexgrog reads the NAME line: $(cut -d: -f2- "$tmp/lg")" ||
            bad "lexgrog cannot parse the NAME section of $nm: $(cat "$tmp/lg")"
    fi
done

# ------------------------------------------------------------ 4. the units
for want in '^Type=notify$' '^ExecStartPre=.*learngened --check-config' '^ExecStart=.*learngened --foreground' \
    '^ExecReload=.*kill -HUP \$MAINPID$' '^DynamicUser=yes$' '^StateDirectory=learngened$' \
    '^ConfigurationDirectory=learngened$' '^ProtectSystem=strict$' '^ProtectHome=yes$' '^PrivateTmp=yes$' \
    '^NoNewPrivileges=yes$' '^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$' \
    '^SystemCallFilter=@system-service$' '^MemoryDenyWriteExecute=yes$' '^LimitNOFILE=' '^WatchdogSec=' \
    '^TimeoutStopSec='; do
    grep -Eq "$want" "$unit" || bad "learngened.service lacks a line matching $want"
done
grep -q '@[a-zA-Z_]*@' "$unit" && bad "learngened.service has an unsubstituted @VARIABLE@: $(grep '@[a-zA-Z_]*@' "$unit")"
ok "learngened.service has Type=notify, the check, the reload and the hardening settings"
# TimeoutStopSec must leave drain_timeout (its default) time to drain
tss=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
dt=$(awk -F'\t' '$1 == "drain_timeout" {print $3}' "$tmp/options")
[ -n "$tss" ] && [ -n "$dt" ] && [ "$tss" -gt "$dt" ] && ok "TimeoutStopSec=$tss is above the default drain_timeout $dt" ||
    bad "TimeoutStopSec=$tss is not above drain_timeout = $dt"

# the unit as installed, but with the built daemon and the sample config
sbin=$(sed -n 's|^ExecStart=\(.*\)/learngened --foreground.*|\1|p' "$unit")
confpath=$(sed -n 's|^ExecStart=.* -c \(.*\)$|\1|p' "$unit")
mkdir -p "$tmp/units" "$tmp/man/man5" "$tmp/man/man8"
sed -e "s|$sbin/learngened|$(cd "$(dirname "$bin")" && pwd)/learngened|g" -e "s|$confpath|$sample|g" "$unit" \
    >"$tmp/units/learngened.service"
cp "$socket" "$tmp/units/learngened.socket"
cp "$man8" "$tmp/man/man8/"
cp "$conf5" "$tmp/man/man5/"
# ExecStartPre= runs as written
pre=$(sed -n 's/^ExecStartPre=//p' "$tmp/units/learngened.service")
if sh -c "$pre" >/dev/null 2>"$tmp/err"; then ok "the unit's ExecStartPre= passes: $pre"; else
    bad "the unit's ExecStartPre= fails: $pre: $(cat "$tmp/err")"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
    (cd "$tmp/units" && MANPATH="$tmp/man" systemd-analyze verify ./learngened.service ./learngened.socket) \
        >"$tmp/verify" 2>&1
    e=$?
    if [ "$e" = 0 ] && ! grep -qv '^$' "$tmp/verify"; then
        ok "systemd-analyze verify: learngened.service and learngened.socket (man pages found)"
    else
        bad "systemd-analyze verify (exit $e): $(cat "$tmp/verify")"
    fi
    if (cd "$tmp/units" && systemd-analyze security --offline=true ./learngened.service) >"$tmp/sec" 2>&1; then
        score=$(sed -n 's/.*Overall exposure level for learngened.service: \([0-9.]*\).*/\1/p' "$tmp/sec")
        if [ -n "$score" ] && awk "BEGIN { exit !($score <= 2.0) }"; then
            ok "systemd-analyze security: exposure $score (at most 2.0)"
        else
            bad "systemd-analyze security: exposure '$score', want at most 2.0: $(grep '✗' "$tmp/sec")"
        fi
    else
        note "systemd-analyze security --offline is not supported here"
    fi
else
    note "no systemd-analyze; the units were not verified"
fi

# ------------------------------------------ 5. the sandbox under a workload
# PR_SET_MDWE (Linux 6.3+) refuses W+X mappings and making memory executable
# for the process and what it execs; systemd >= 253 uses it for
# MemoryDenyWriteExecute=yes, older ones a seccomp filter that refuses
# mprotect(PROT_EXEC) and mmap(PROT_WRITE|PROT_EXEC), which strace checks.
cat >"$tmp/mdwe.py" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit("PR_SET_MDWE: errno %d" % ctypes.get_errno())
os.execvp(sys.argv[1], sys.argv[1:])
EOF
wrap=""
if "$py" "$tmp/mdwe.py" true 2>/dev/null; then
    wrap="$py $tmp/mdwe.py"
    ok "this kernel has PR_SET_MDWE: the daemon runs under it"
else
    note "no PR_SET_MDWE in this kernel; the W+X check relies on strace and /proc/PID/maps"
fi
tracer=""
if command -v strace >/dev/null 2>&1 && strace -f -qq -o /dev/null true 2>/dev/null; then
    tracer="strace -f -qq -o $tmp/trace -e trace=all -e signal=none -s 0"
    # LeakSanitizer cannot run under ptrace (an ASan build would exit 1 at
    # the end); leaks are checked by every other test of that build
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
else
    note "no strace (or no ptrace here): mprotect/mmap flags and system calls not checked"
fi
fmnist=""
for d in "${LG_FMNIST_DIR:-}" /usr/share/datasets/fashion-mnist; do
    [ -n "$d" ] && [ -f "$d/train-images-idx3-ubyte.gz" ] && fmnist=$d && break
done
cat >"$tmp/d.conf" <<EOF
listen = 127.0.0.1:0
state_dir = $tmp/state
data_dir = $LG_SRCDIR/data
fmnist_dir = "$fmnist"
workers = 1
blas_threads = 0
checkpoint_every = 2
log_level = info
EOF
# shellcheck disable=SC2086 # $wrap and $tracer are command prefixes
$wrap $tracer "$bin" --foreground -c "$tmp/d.conf" >"$tmp/d.log" 2>&1 </dev/null &
dpid=$!
port=
i=0
while [ $i -lt 600 ] && [ -z "$port" ]; do
    port=$(sed -n 's/.*event=listen .*port=\([0-9]*\).*/\1/p' "$tmp/d.log" | head -1)
    kill -0 "$dpid" 2>/dev/null || break
    [ -z "$port" ] && sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    bad "the daemon did not start under the sandbox checks: $(tail -5 "$tmp/d.log")"
else
    base="http://127.0.0.1:$port"
    # the pid of the daemon itself (the wrappers exec or trace it)
    real=$(pgrep -n -f "^$bin --foreground -c $tmp/d.conf" 2>/dev/null || echo "$dpid")
    cat >"$tmp/work.py" <<'EOF'
# work.py BASE: grow, predict, download, fine-tune; prints failures, exits 1 on any.
import json, os, sys, time, urllib.request
base, fails = sys.argv[1], 0
def call(method, path, body=None, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
def need(what, status, want, data):
    global fails
    if status not in want:
        fails += 1
        print("work.py: %s: %d %s" % (what, status, data[:200]))
    return json.loads(data) if data[:1] == b"{" else None
s, d = call("GET", "/v1/learngenes")
gene = need("list learngenes", s, (200,), d)["learngenes"][0]["id"]
pools = json.loads(call("GET", "/v1/pools")[1])["pools"]
s, d = call("POST", "/v1/models", json.dumps({"from": gene, "depth": 8}).encode())
m = need("grow depth 8", s, (200, 201), d)
s, d = call("POST", "/v1/models/%s/predict?top_k=1" % m["id"], os.urandom(784 * 8), "application/x-u8")
need("predict 8 images", s, (200,), d)
s, d = call("GET", "/v1/models/%s/weights" % m["id"])
need("download", s, (200,), b"")
if pools:
    s, d = call("POST", "/v1/models", json.dumps({"budget": {"flops": 2e7}}).encode())
    need("grow for a budget", s, (200, 201), d)
ds = [x for x in json.loads(call("GET", "/v1/datasets")[1])["datasets"] if x["name"] == "fashion-mnist-train"]
if ds:
    body = {"from": gene, "depth": 2, "finetune": {"dataset": ds[0]["id"], "classes": [5, 6, 7, 8, 9],
                                                    "per_class": 20, "epochs": 1}}
    s, d = call("POST", "/v1/models", json.dumps(body).encode())
    job = need("fine-tune", s, (202,), d)
    state = "?"
    for _ in range(240):
        state = json.loads(call("GET", "/v1/jobs/" + job["job"]["id"])[1])["state"]
        if state in ("succeeded", "failed", "canceled"):
            break
        time.sleep(0.25)
    if state != "succeeded":
        fails += 1
        print("work.py: the fine-tune job ended %s" % state)
else:
    print("work.py: no Fashion-MNIST; no fine-tune")
sys.exit(1 if fails else 0)
EOF
    if "$py" "$tmp/work.py" "$base" >"$tmp/work.out" 2>&1; then
        ok "grow, predict, download$([ -n "$fmnist" ] && echo ", fine-tune") under the sandbox checks"
    else
        bad "the workload under the sandbox checks: $(cat "$tmp/work.out") $(tail -5 "$tmp/d.log")"
    fi
    wx=$(grep -cE '^[0-9a-f-]+ .wx' "/proc/$real/maps" 2>/dev/null)
    [ "${wx:-0}" = 0 ] && ok "no writable and executable mapping in /proc/$real/maps" ||
        bad "writable and executable mappings: $(grep -E '^[0-9a-f-]+ .wx' "/proc/$real/maps")"
    kill -HUP "$real"
    sleep 0.3
    kill -TERM "$real"
    wait "$dpid"
    e=$?
    dpid=
    [ "$e" = 0 ] && ok "the daemon reloaded and stopped cleanly under the sandbox checks" ||
        bad "exit status $e under the sandbox checks: $(tail -5 "$tmp/d.log")"
    if [ -n "$tracer" ] && [ -s "$tmp/trace" ]; then
        grep -E 'mprotect\(.*PROT_EXEC|pkey_mprotect\(.*PROT_EXEC|mmap\(.*PROT_WRITE\|PROT_EXEC|mmap\(.*PROT_EXEC\|PROT_WRITE|shmat\(.*SHM_EXEC' \
            "$tmp/trace" >"$tmp/wx"
        [ -s "$tmp/wx" ] && bad "memory made writable+executable or executable later: $(head -5 "$tmp/wx")" ||
            ok "no mprotect(PROT_EXEC), no W+X mmap in $(wc -l <"$tmp/trace") traced system calls"
        if ldd "$bin" 2>/dev/null | grep -q libasan; then
            note "a sanitizer build: its system calls are not those of a release build; SystemCallFilter not checked"
        elif command -v systemd-analyze >/dev/null 2>&1; then
            systemd-analyze syscall-filter >"$tmp/groups" 2>/dev/null
            cat >"$tmp/filter.py" <<'EOF'
# filter.py GROUPS TRACE: the traced system calls outside @system-service.
import re, sys
groups, cur = {}, None
for l in open(sys.argv[1]):
    if l.startswith("@"):
        cur = l.split()[0]
        groups[cur] = []
    elif cur and l.startswith("    ") and not l.strip().startswith("#"):
        groups[cur].append(l.split()[0])
def expand(g, seen=()):
    out = set()
    for m in groups.get(g, []):
        out |= expand(m, seen + (g,)) if m.startswith("@") and m not in seen else {m}
    return out
allowed = expand("@system-service")
used = set()
for l in open(sys.argv[2]):
    m = re.match(r"\d+\s+([a-z_0-9]+)\(", l)
    if m:
        used.add(m.group(1))
print(" ".join(sorted(used - allowed)) or "-", len(used))
EOF
            # shellcheck disable=SC2046 # two words: the calls outside the group, and how many there were
            set -- $("$py" "$tmp/filter.py" "$tmp/groups" "$tmp/trace")
            if [ "${1:-?}" = "-" ]; then
                ok "all $2 system calls the daemon made are in @system-service (SystemCallFilter=)"
            else
                bad "system calls outside @system-service: $1"
            fi
        fi
    fi
fi

# -------------------------------------- 6. the systemd protocol, for real
# What Type=notify and socket activation rely on, with systemd's own
# systemd-socket-activate (it binds the port, waits for a connection, execs
# the daemon with LISTEN_FDS) and a notify socket read here: READY=1 once
# the store is open and the socket served (GET /readyz at that moment is
# 200), STATUS= with models cached and jobs running, WATCHDOG=1 every
# WATCHDOG_USEC/2, RELOADING=1 with MONOTONIC_USEC= then READY=1 on SIGHUP,
# STOPPING=1 on SIGTERM.
cat >"$tmp/notify.py" <<'EOF'
# notify.py SOCKET PORT OUT: records every datagram to OUT, one a line
# ("|" for newlines); on the first READY=1, also "readyz=STATUS".
import socket, sys, urllib.request
path, port, out = sys.argv[1], sys.argv[2], open(sys.argv[3], "w")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(30)
ready = False
try:
    while True:
        msg = s.recv(4096).decode().split("\n")
        out.write("|".join(msg) + "\n")
        out.flush()
        if not ready and "READY=1" in msg:
            ready = True
            try:
                code = urllib.request.urlopen("http://127.0.0.1:%s/readyz" % port, timeout=5).status
            except Exception as e:
                code = repr(e)
            out.write("readyz=%s\n" % code)
            out.flush()
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    pass
EOF
sport=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/n.conf" <<EOF
listen = 127.0.0.1:0
state_dir = $tmp/nstate
data_dir = $LG_SRCDIR/data
fmnist_dir = ""
EOF
"$py" "$tmp/notify.py" "$tmp/notify" "$sport" "$tmp/notify.out" &
npid=$!
i=0
while [ ! -S "$tmp/notify" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
if command -v systemd-socket-activate >/dev/null 2>&1; then
    systemd-socket-activate -l "127.0.0.1:$sport" -E NOTIFY_SOCKET="$tmp/notify" -E WATCHDOG_USEC=2000000 \
        "$bin" --foreground -c "$tmp/n.conf" >"$tmp/n.log" 2>&1 </dev/null &
    dpid=$!
    activated=1
else
    note "no systemd-socket-activate: socket activation not checked, the notify protocol is"
    sed -i "s/^listen = .*/listen = 127.0.0.1:$sport/" "$tmp/n.conf"
    NOTIFY_SOCKET="$tmp/notify" WATCHDOG_USEC=2000000 "$bin" --foreground -c "$tmp/n.conf" >"$tmp/n.log" 2>&1 \
        </dev/null &
    dpid=$!
    activated=0
fi
sleep 0.3
# with socket activation the daemon starts on this first connection
code=$("$py" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=30).status)' \
    "http://127.0.0.1:$sport/readyz" 2>/dev/null)
if [ "$activated" = 1 ]; then
    if [ "$code" = 200 ] && grep -q "event=listen .*port=$sport " "$tmp/n.log"; then
        ok "socket activation: the first connection started the daemon, which served the socket it was given"
    else
        bad "socket activation: GET /readyz '$code'; log: $(cat "$tmp/n.log")"
    fi
fi
sleep 2.6
kill -HUP "$dpid"
sleep 0.5
kill -TERM "$dpid"
wait "$dpid"
e=$?
dpid=
wait "$npid" 2>/dev/null
npid=
[ "$e" = 0 ] || bad "exit status $e after SIGTERM (notify run): $(tail -5 "$tmp/n.log")"
touch "$tmp/notify.out"
nl=$(tr '\n' ' ' <"$tmp/notify.out")
if [ "$(head -1 "$tmp/notify.out")" = "READY=1" ] && grep -qx 'readyz=200' "$tmp/notify.out"; then
    ok "READY=1 is the first notification, and at that moment GET /readyz answers 200"
else
    bad "READY=1 first and /readyz 200 at that moment: $nl"
fi
grep -q '^STATUS=serving: [0-9]* models cached (.* MiB), [0-9]* jobs running' "$tmp/notify.out" &&
    ok "STATUS= says the models cached and the jobs running: $(grep -m1 '^STATUS=' "$tmp/notify.out")" ||
    bad "no STATUS= line with models cached and jobs running: $nl"
w=$(grep -c '^WATCHDOG=1$' "$tmp/notify.out")
[ "$w" -ge 2 ] && ok "WATCHDOG=1 $w times in about 3 s with WATCHDOG_USEC=2000000" ||
    bad "WATCHDOG=1 $w times in about 3 s with WATCHDOG_USEC=2000000, want at least 2"
grep -A1 '^RELOADING=1|MONOTONIC_USEC=[0-9]*$' "$tmp/notify.out" | grep -qx 'READY=1' &&
    ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1" || bad "reload notifications: $nl"
[ "$(tail -1 "$tmp/notify.out")" = "STOPPING=1" ] && ok "SIGTERM: STOPPING=1" || bad "no STOPPING=1 at the end: $nl"

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
