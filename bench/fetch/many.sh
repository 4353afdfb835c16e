#!/usr/bin/env bash
# postie fetch for many URLs (issue 14) against curl -Z, xargs -P8 curl and wget -i, on a local
# nginx (Debian) serving 10,000 small pages (4-40 KB of random bytes) from a temporary folder.
# One hyperfine run compares:
#   postie fetch --url-file LIST --parallel 8 --output-dir D
#   curl -Z --parallel-max 8 --remote-name-all --output-dir D --config CFG  (same URLs; the
#     options come first: curl applies --remote-name-all only to URLs after it)
#   xargs -P8 -n100 curl --remote-name-all --output-dir D < LIST  (100 URLs per curl process)
#   wget -i LIST -P D                                            (one by one: wget has no -P8)
# Each command writes every page into its own emptied folder. Then: peak RSS (/usr/bin/time -v)
# of postie with 10,000 and 100,000 URLs (must be flat), and a second run with --update (all
# 304) against the first.
# Needs: nginx, curl, wget, hyperfine, time (Debian packages).
# Also timed: postie with --parallel-per-host 8 (as many connections to the one host as curl
# -Z opens; the default is 6, as browsers) and with --fsync (every page on disk before it is
# named). OUT=DIR puts the downloaded pages under DIR instead of the temporary folder (e.g.
# OUT=/dev/shm to time the tools without the disk: on a shared virtual disk, writeback and
# ext4's inode allocation make single runs vary by 3x).
# Usage: bench/fetch/many.sh [RUNS]   (from the repository root; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
PAGES=10000

[ -n "${NO_BUILD:-}" ] || cargo build --release -q
POSTIE=$PWD/target/release/postie
CURL=$(command -v curl)
WGET=$(command -v wget)

WORK=$(mktemp -d /tmp/postie-bench-many.XXXXXX)
chmod 755 "$WORK"
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/www" "$WORK/tmp"
chmod 755 "$WORK/www"
python3 - "$WORK/www" "$PAGES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(14)
pool = os.urandom(40 * 1024 + 4096)
for i in range(n):
    size = rng.randint(4 * 1024, 40 * 1024)
    off = rng.randint(0, 4096)
    with open(os.path.join(root, f"p{i}.html"), "wb") as f:
        f.write(pool[off:off + size])
PY
chmod -R a+rX "$WORK/www"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  etag on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT;
    root $WORK/www;
    # /pN-cK.html is page N again (distinct names for the 100,000-URL list).
    rewrite ^/(p[0-9]+)-c[0-9]+\.html\$ /\$1.html last;
  }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf" &
NGINX_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do
  if "$CURL" -sf -o /dev/null "$BASE/p0.html"; then break; fi
  sleep 0.1
done

LIST=$WORK/list.txt
CFG=$WORK/curl.cfg
for i in $(seq 0 $((PAGES - 1))); do echo "$BASE/p$i.html"; done > "$LIST"
sed 's/.*/url = "&"/' "$LIST" > "$CFG"
BIG=$WORK/list100k.txt
for c in $(seq 0 9); do sed "s/\.html\$/-c$c.html/" "$LIST"; done > "$BIG"

OUT=$(mktemp -d "${OUT:-$WORK}/postie-bench-out.XXXXXX")
cleanup_out() { rm -rf "$OUT"; cleanup; }
trap cleanup_out EXIT
mkdir -p "$OUT/trash"
for d in postie curl xargs wget rss upd; do mkdir -p "$OUT/out-$d"; done
# (hyperfine -N runs --prepare without a shell too.)
# sync: no run pays for the writeback of the run before it.
# The old folder is moved aside, not removed: for about 30 s after 10,000 files are deleted,
# ext4 scans past their inodes when it allocates new ones, which slowed whichever run came
# next by seconds. Everything is removed at the end.
fresh() { echo "sh -c 'mv $OUT/out-$1 $OUT/trash/\$\$ && mkdir $OUT/out-$1 && sync'"; }

echo "== postie $("$POSTIE" --version) vs $("$CURL" --version | head -1) vs $("$WGET" --version | head -1)"
echo "== $PAGES pages of 4-40 KB, 8 at a time (wget: one at a time)"
hyperfine --warmup 1 --runs "$RUNS" -N --style basic \
  --export-markdown "$WORK/many.md" --export-json "$WORK/many.json" \
  --prepare "$(fresh postie)" -n "postie --parallel 8" \
    "$POSTIE fetch -s --url-file $LIST --parallel 8 --output-dir $OUT/out-postie" \
  --prepare "$(fresh postie)" -n "postie --parallel 8 --parallel-per-host 8" \
    "$POSTIE fetch -s --url-file $LIST --parallel 8 --parallel-per-host 8 --output-dir $OUT/out-postie" \
  --prepare "$(fresh postie)" -n "postie --parallel 8 --fsync" \
    "$POSTIE fetch -s --url-file $LIST --parallel 8 --fsync --output-dir $OUT/out-postie" \
  --prepare "$(fresh curl)" -n "curl -Z --parallel-max 8" \
    "$CURL -s -Z --parallel-max 8 --remote-name-all --output-dir $OUT/out-curl --config $CFG" \
  --prepare "$(fresh xargs)" -n "xargs -P8 curl" \
    "sh -c 'xargs -P8 -n100 $CURL -s --remote-name-all --output-dir $OUT/out-xargs < $LIST'" \
  --prepare "$(fresh wget)" -n "wget -i" \
    "$WGET -q -i $LIST -P $OUT/out-wget" >/dev/null
cat "$WORK/many.md"
python3 - "$WORK/many.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c = r["curl -Z --parallel-max 8"]
for name, x in r.items():
    print(f"{name:26} median {x['median']:.3f} s  min {x['min']:.3f} s  "
          f"ratio to curl -Z (median) {x['median'] / c['median']:.2f}")
PY
# Every page arrived, byte for byte (postie's and curl's copies).
diff -rq "$WORK/www" "$OUT/out-postie" >/dev/null && echo "postie: all $PAGES pages identical"
diff -rq "$WORK/www" "$OUT/out-curl" >/dev/null && echo "curl: all $PAGES pages identical"

echo "== peak RSS of postie --parallel 8 (KiB)"
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
rm -rf "$OUT/out-rss"; mkdir "$OUT/out-rss"
echo "10,000 URLs:  $(rss "$POSTIE" fetch -s --url-file "$LIST" --parallel 8 --output-dir "$OUT/out-rss")"
rm -rf "$OUT/out-rss"; mkdir "$OUT/out-rss"
echo "100,000 URLs: $(rss "$POSTIE" fetch -s --url-file "$BIG" --parallel 8 --output-dir "$OUT/out-rss")"
rm -rf "$OUT/out-rss"; mkdir "$OUT/out-rss"
echo "curl -Z, 10,000 URLs:  $(rss "$CURL" -s -Z --parallel-max 8 --remote-name-all --output-dir "$OUT/out-rss" --config "$CFG")"
rm -rf "$OUT/out-rss"

echo "== second run with --update (all 304)"
# The store inside the output folder, so each first run starts from an empty one (the
# default, ~/.local/state/postie/fetch-state.json, keeps every earlier run's entries).
UPD="$POSTIE fetch -s --url-file $LIST --parallel 8 --output-dir $OUT/out-upd --update --state $OUT/out-upd/.state.json"
hyperfine --runs "$RUNS" -N --style basic --export-json "$WORK/upd.json" \
  --prepare "$(fresh upd)" -n "first run" "$UPD" \
  -n "second run (--update)" --prepare "true" "$UPD" >/dev/null
python3 - "$WORK/upd.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
a, b = r["first run"], r["second run (--update)"]
print(f"first run median {a['median']:.3f} s, second run median {b['median']:.3f} s, "
    f"ratio {b['median'] / a['median']:.2f} (goal <= 0.33)")
PY
