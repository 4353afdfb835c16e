#!/usr/bin/env bash
# postie url/qs against CPython 3.13's urllib.parse, in the same run.
# Needs: hyperfine, /usr/bin/time (Debian `time`), CPython 3.13 (PYENV_VERSION=3.13.0 python3
# or python3.13), a release build (cargo build --release).
# Usage: bench/url/run.sh [N]   (N URLs, default 1,000,000; data goes to $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
POSTIE=${POSTIE:-target/release/postie}
if PYENV_VERSION=3.13.0 python3 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
  PY="env PYENV_VERSION=3.13.0 python3"
elif command -v python3.13 >/dev/null; then
  PY=python3.13
else
  PY="${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13.0/bin/python3"
fi
[ -x "$POSTIE" ] || cargo build --release
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
$PY bench/url/gen_urls.py "$N" > "$DATA/urls.txt"
# The query strings of those URLs, for qs parse.
$PY -c 'import sys; [sys.stdout.write(l.rstrip("\n").partition("?")[2].partition("#")[0] + "\n") for l in sys.stdin]' \
  < "$DATA/urls.txt" > "$DATA/queries.txt"
echo "== $N URLs, $(($(wc -c < "$DATA/urls.txt") / N)) bytes each on average; $($PY --version)"

# Same answers first: the benchmark compares equal work.
$POSTIE url parse --json < "$DATA/urls.txt" > "$DATA/postie.jsonl" || true
$PY bench/url/py_parse_json.py < "$DATA/urls.txt" > "$DATA/python.jsonl"
$PY -c '
import json, sys
a, b = open(sys.argv[1]), open(sys.argv[2])
for n, (x, y) in enumerate(zip(a, b)):
    assert json.loads(x) == json.loads(y), (n, x, y)
print("url parse --json: outputs agree")' "$DATA/postie.jsonl" "$DATA/python.jsonl"
cmp <($POSTIE url get '{hostname}' < "$DATA/urls.txt") <($PY bench/url/py_hostname.py < "$DATA/urls.txt") \
  && echo "url get {hostname}: outputs agree"

hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$DATA/hf.json" \
  -n "postie url parse --json" "$POSTIE url parse --json < $DATA/urls.txt > /dev/null" \
  -n "python urlparse+json" "$PY bench/url/py_parse_json.py < $DATA/urls.txt > /dev/null" \
  -n "postie qs parse" "$POSTIE qs parse < $DATA/queries.txt > /dev/null" \
  -n "python parse_qs+json" "$PY bench/url/py_qs_parse.py < $DATA/queries.txt > /dev/null" \
  -n "postie url get {hostname}" "$POSTIE url get '{hostname}' < $DATA/urls.txt > /dev/null" \
  -n "python urlsplit().hostname" "$PY bench/url/py_hostname.py < $DATA/urls.txt > /dev/null"

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
echo "== peak RSS (KiB)"
echo "postie url parse --json:  $(rss sh -c "$POSTIE url parse --json < $DATA/urls.txt")"
echo "python urlparse+json:     $(rss sh -c "$PY bench/url/py_parse_json.py < $DATA/urls.txt")"
echo "postie qs parse:          $(rss sh -c "$POSTIE qs parse < $DATA/queries.txt")"
echo "python parse_qs+json:     $(rss sh -c "$PY bench/url/py_qs_parse.py < $DATA/queries.txt")"
echo "postie url get:           $(rss sh -c "$POSTIE url get '{hostname}' < $DATA/urls.txt")"
echo "python hostname loop:     $(rss sh -c "$PY bench/url/py_hostname.py < $DATA/urls.txt")"

$PY - "$DATA/hf.json" "$N" <<'PYEOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
res = {r["command"]: r["mean"] for r in results}
cpu = {r["command"]: r["user"] + r["system"] for r in results}
n = int(sys.argv[2])
print("== throughput (URLs/s, wall) and ratios (python time / postie time)")
for p, q, goal in [("postie url parse --json", "python urlparse+json", 50),
                   ("postie qs parse", "python parse_qs+json", None),
                   ("postie url get {hostname}", "python urlsplit().hostname", 30)]:
    ratio = res[q] / res[p]
    g = f" (goal >= {goal}x: {'met' if ratio >= goal else 'NOT met'})" if goal else ""
    print(f"{p}: {n / res[p]:,.0f}/s vs {n / res[q]:,.0f}/s = {ratio:.1f}x wall, "
          f"{cpu[q] / cpu[p]:.1f}x CPU time{g}")
PYEOF
