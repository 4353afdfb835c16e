#!/usr/bin/env bash
# Cookie-jar benchmark (issue 3): load a 100,000-cookie jar, make one request, save it.
#   postie fetch --jar JAR URL            (load + one request + merge-save, atomic, fsync)
#   curl -b JAR -c JAR2 URL               (the same job in curl)
#   Python MozillaCookieJar load + save   (no request: only the file work)
# against a local server (fixtures/cookies/sample_server.py; GET /set sets 9 cookies).
# Needs: cargo build --release, hyperfine, /usr/bin/time, curl, python3.
# Usage: bench/cookies/run.sh [N]     (N cookies, default 100000)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
postie=$root/target/release/postie
n=${1:-100000}
[ -x "$postie" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$root/fixtures/cookies/sample_server.py" "$port" & server=$!
trap 'kill $server; rm -rf "$work"' EXIT
python3 "$root/bench/cookies/make_jar.py" "$work/jar.txt" "$n"
cp "$work/jar.txt" "$work/postie.txt"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
url="http://127.0.0.1:$port/set"
py="$root/bench/cookies/mozilla_load_save.py"

echo "== wall time ($n cookies; machine: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
hyperfine -N -w 1 -r "${RUNS:-10}" --export-json "$work/h1.json" \
  -n postie "$postie fetch -s -o /dev/null --jar $work/postie.txt $url" \
  -n python "python3 $py $work/jar.txt $work/python.txt"
# curl 7.88 keeps cookies in a few linked lists and checks each new one against the rest:
# it is quadratic here (tens of seconds), so fewer runs.
hyperfine -N -r "${CURL_RUNS:-2}" --export-json "$work/h2.json" \
  -n curl "curl -s -o /dev/null -b $work/jar.txt -c $work/curl.txt $url"
python3 - "$work/h1.json" "$work/h2.json" <<'PY'
import json, sys
r = {x["command"]: x for f in sys.argv[1:] for x in json.load(open(f))["results"]}
p = r["postie"]
for other in ("python", "curl"):
    o = r[other]
    print(f"postie/{other}: wall {p['mean'] / o['mean']:.3f}  "
          f"cpu {(p['user'] + p['system']) / (o['user'] + o['system']):.3f}")
PY

echo "== peak RSS"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
echo "postie: $(rss "$postie" fetch -s -o /dev/null --jar "$work/postie.txt" "$url") KiB"
echo "python: $(rss python3 "$py" "$work/jar.txt" "$work/python.txt") KiB"
echo "curl:   $(rss curl -s -o /dev/null -b "$work/jar.txt" -c "$work/curl.txt" "$url") KiB"
echo "lines: postie $(wc -l < "$work/postie.txt"), curl $(wc -l < "$work/curl.txt"), python $(wc -l < "$work/python.txt")"
