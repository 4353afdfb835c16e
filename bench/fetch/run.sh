#!/usr/bin/env bash
# postie fetch against curl, on a local nginx (Debian) serving from a temporary folder.
# Scenarios (issue 2): 1 GiB download to a file and to /dev/null; 1,000 small GETs to one host
# in one invocation; one small GET (start-up cost). Peak RSS with /usr/bin/time -v for the
# 100 MiB and 1 GiB downloads. Needs: nginx, curl, hyperfine, time (Debian packages).
# Usage: bench/fetch/run.sh [RUNS]   (from the repository root; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}

cargo build --release -q
POSTIE=$PWD/target/release/postie
CURL=$(command -v curl)

WORK=$(mktemp -d /tmp/postie-bench-fetch.XXXXXX)
chmod 755 "$WORK"
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/www" "$WORK/tmp" "$WORK/out"
chmod 755 "$WORK/www"
# Random content, so nothing gains from sparse reads or compression.
head -c $((1024 * 1024 * 1024)) /dev/urandom > "$WORK/www/1g.bin"
head -c $((100 * 1024 * 1024)) "$WORK/www/1g.bin" > "$WORK/www/100m.bin"
head -c 1024 /dev/urandom > "$WORK/www/small.bin"
chmod 644 "$WORK/www/"*

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT;
    root $WORK/www;
  }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 100); do
  if "$CURL" -sf -o /dev/null "http://127.0.0.1:$PORT/small.bin"; then break; fi
  sleep 0.1
done
BASE="http://127.0.0.1:$PORT"

echo "== postie $("$POSTIE" --version) vs $("$CURL" --version | head -1)"
# hf NAME POSTIE_CMD CURL_CMD: both in one hyperfine run; prints the markdown table.
# Also prints median and minimum, steadier than the mean on a shared machine.
hf() {
  hyperfine --warmup 1 --runs "$RUNS" -N --style basic --export-markdown "$WORK/$1.md" \
    --export-json "$WORK/$1.json" -n postie "$2" -n curl "$3" >/dev/null
  cat "$WORK/$1.md"
  python3 - "$WORK/$1.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
p, c = r["postie"], r["curl"]
for k in ("mean", "median", "min"):
    print(f"{k}: postie {p[k]*1000:.1f} ms, curl {c[k]*1000:.1f} ms, ratio {p[k]/c[k]:.2f}")
PY
}

echo "== 1 GiB to a file"
hf file "$POSTIE fetch -s -o $WORK/out/p.bin $BASE/1g.bin" "$CURL -s -o $WORK/out/c.bin $BASE/1g.bin"
cmp "$WORK/out/p.bin" "$WORK/www/1g.bin"
rm -f "$WORK/out/"*

echo "== 1 GiB to /dev/null"
hf null "$POSTIE fetch -s -o /dev/null $BASE/1g.bin" "$CURL -s -o /dev/null $BASE/1g.bin"

echo "== 1,000 small GETs in one invocation (bodies to stdout, which hyperfine discards)"
URLS=$(for _ in $(seq 1000); do printf '%s ' "$BASE/small.bin"; done)
hf many "$POSTIE fetch -s $URLS" "$CURL -s $URLS"

echo "== one small GET"
hf one "$POSTIE fetch -s $BASE/small.bin" "$CURL -s $BASE/small.bin"

echo "== peak RSS (KiB)"
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
for f in 100m.bin 1g.bin; do
  echo "postie $f to a file: $(rss "$POSTIE" fetch -s -o "$WORK/out/p" "$BASE/$f")"
  echo "curl   $f to a file: $(rss "$CURL" -s -o "$WORK/out/c" "$BASE/$f")"
  echo "postie $f to stdout: $(rss "$POSTIE" fetch -s "$BASE/$f")"
  echo "curl   $f to stdout: $(rss "$CURL" -s "$BASE/$f")"
  rm -f "$WORK/out/"*
done
