#!/bin/sh
# test_openapi.sh - docs/openapi.yaml against the route table in api/routes.c,
# so neither can drift: every route (method + path) of the table is in the
# document and every operation of the document is in the table, each with
# the token scope the table gives it (OPEN: none; READ: read; R: read for
# GET, write otherwise) as x-scope and as its security requirement; the
# document is OpenAPI 3 and declares its bearer security schemes.
# The document is read twice - with PyYAML when it is installed (then also:
# every $ref resolves, every {id} has its path parameter, every operation
# has responses) and with a small reader of its indentation structure - and
# both readings must agree, so the check runs the same without PyYAML.
set -u
: "${LG_SRCDIR:=.}"
py=${PYTHON3:-python3}
command -v "$py" >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
exec "$py" - "$LG_SRCDIR/api/routes.c" "$LG_SRCDIR/docs/openapi.yaml" <<'EOF'
import re
import sys

routes_c, doc_path = sys.argv[1], sys.argv[2]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


# ------------------------------------------------------------ the table
src = open(routes_c, encoding="utf-8").read()
m = re.search(r"static const lga_route routes\[\] = \{(.*?)\n\};", src, re.S)
if not m:
    sys.exit("FAIL: no 'static const lga_route routes[] = {' table in " + routes_c)
entry = re.compile(r'^(R|OPEN|READ)\(\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,')
table = {}
for line in m.group(1).splitlines():
    line = line.strip()
    if not line or line.startswith("//") or line.startswith("/*") or line.startswith("*"):
        continue
    e = entry.match(line)
    if not e:
        fail("cannot read route line %r (R/OPEN/READ expected): teach this test the new form" % line)
        continue
    kind, method, path = e.groups()
    scope = "none" if kind == "OPEN" else "read" if kind == "READ" or method == "GET" else "write"
    if (method, path) in table:
        fail("route %s %s is in the table twice" % (method, path))
    table[(method, path)] = scope
print("route table: %d routes" % len(table))
if len(table) < 10:
    fail("only %d routes read from %s" % (len(table), routes_c))

# ---------------------------------------------- the document, line reader
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
text = open(doc_path, encoding="utf-8").read()


def schemes_of(flow):
    """'[{readToken: []}, {writeToken: []}]' -> 'readToken,writeToken'."""
    return ",".join(sorted(re.findall(r"\{\s*([A-Za-z0-9_.-]+)\s*:", flow)))


def read_lines(text):
    ops, section, path, op, version = {}, None, None, None, None
    bearer = {}
    comp_sub, scheme = None, None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        ind = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if ind == 0:
            section = line.split(":")[0]
            if section == "openapi":
                version = line.split(":", 1)[1].strip().strip("'\"")
            path = op = comp_sub = scheme = None
            continue
        if section == "paths":
            if ind == 2 and line.endswith(":"):
                path, op = line[:-1].strip("'\""), None
            elif ind == 4 and path:
                key = line.split(":")[0]
                op = key if key in METHODS else None
                if op:
                    ops[(op.upper(), path)] = {"scope": None, "security": None}
            elif ind == 6 and op:
                key, _, val = line.partition(":")
                if key == "x-scope":
                    ops[(op.upper(), path)]["scope"] = val.strip()
                elif key == "security":
                    ops[(op.upper(), path)]["security"] = schemes_of(val)
        elif section == "components":
            if ind == 2:
                comp_sub = line.rstrip(":")
            elif comp_sub == "securitySchemes" and ind == 4:
                scheme = line.rstrip(":")
                bearer[scheme] = {}
            elif comp_sub == "securitySchemes" and ind == 6 and scheme:
                key, _, val = line.partition(":")
                bearer[scheme][key] = val.strip()
    schemes = {k for k, v in bearer.items() if v.get("type") == "http" and v.get("scheme") == "bearer"}
    return version, ops, schemes


version, ops, schemes = read_lines(text)
print("openapi.yaml (line reader): %d operations, bearer schemes %s" % (len(ops), sorted(schemes)))

# ------------------------------------------------ the document, PyYAML
try:
    import yaml
except ImportError:
    yaml = None
    print("PyYAML not installed: the line reader's reading stands alone")
if yaml is not None:
    doc = yaml.safe_load(text)
    yops = {}
    for path, item in (doc.get("paths") or {}).items():
        for key, op in item.items():
            if key not in METHODS:
                continue
            sec = op.get("security", doc.get("security"))
            yops[(key.upper(), path)] = {
                "scope": op.get("x-scope"),
                "security": None if sec is None else ",".join(sorted(n for req in sec for n in req)),
            }
            if not op.get("responses"):
                fail("%s %s has no responses" % (key.upper(), path))
            params = list(item.get("parameters") or []) + list(op.get("parameters") or [])

            def deref(p):
                if "$ref" in p:
                    node = doc
                    for part in p["$ref"].lstrip("#/").split("/"):
                        node = node.get(part, {})
                    return node
                return p

            names = {deref(p).get("name") for p in params if deref(p).get("in") == "path"}
            for want in re.findall(r"\{([^}]+)\}", path):
                if want not in names:
                    fail("%s %s: no path parameter '%s'" % (key.upper(), path, want))
    yschemes = {
        k
        for k, v in ((doc.get("components") or {}).get("securitySchemes") or {}).items()
        if v.get("type") == "http" and v.get("scheme") == "bearer"
    }
    if str(doc.get("openapi")) != version:
        fail("the readers disagree on the version: %s vs %s" % (doc.get("openapi"), version))
    if yops != ops:
        for k in sorted(set(yops) | set(ops)):
            if yops.get(k) != ops.get(k):
                fail("the readers disagree on %s %s: PyYAML %s, line reader %s" % (k + (yops.get(k), ops.get(k))))
    if yschemes != schemes:
        fail("the readers disagree on the bearer schemes: %s vs %s" % (sorted(yschemes), sorted(schemes)))

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in sorted(set(refs(doc))):
        node = doc
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if not ref.startswith("#/") or node is None:
            fail("$ref %s does not resolve" % ref)
    print("openapi.yaml (PyYAML): %d operations, every $ref resolves" % len(yops))

# ------------------------------------------------------------ compare
if not version or not version.startswith("3."):
    fail("openapi: %r is not OpenAPI 3" % version)
for want in ("readToken", "writeToken"):
    if want not in schemes:
        fail("components.securitySchemes lacks the bearer scheme %s (type: http, scheme: bearer)" % want)
expect_security = {"none": "", "read": "readToken,writeToken", "write": "writeToken"}
for key in sorted(set(table) - set(ops)):
    fail("route %s %s is in api/routes.c but not in docs/openapi.yaml" % key)
for key in sorted(set(ops) - set(table)):
    fail("docs/openapi.yaml documents %s %s, which api/routes.c does not route" % key)
for key in sorted(set(table) & set(ops)):
    scope, op = table[key], ops[key]
    if op["scope"] != scope:
        fail("%s %s: x-scope %s, the table gives %s" % (key + (op["scope"], scope)))
    if op["security"] != expect_security[scope]:
        fail("%s %s: security [%s], a %s route needs [%s]" % (key + (op["security"], scope, expect_security[scope])))

if failures:
    print("%d openapi check(s) failed" % len(failures))
    sys.exit(1)
print("ok: all %d routes documented with their scopes; no extra operations" % len(table))
EOF
