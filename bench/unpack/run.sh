#!/usr/bin/env bash
# Benchmark: postie unpack against ripmime, munpack, mshow -x (mblaze) and Python's email,
# in one run, on 2,000 messages of ~52 KB and 200 of ~5 MB (one attachment each).
# Needs: hyperfine, GNU time (/usr/bin/time), ripmime, mpack (munpack), mblaze (mshow),
# python3. Usage: [RUNS=3] [SETS="small large"] [TOOLS="postie ripmime ..."]
# [POSTIE_BASE=/path/to/older/postie] bench/unpack/run.sh [WORKDIR]
# POSTIE_BASE adds an older build as the tool `base` (a regression check in the same run).
# (WORKDIR defaults to /tmp/postie-bench-unpack; the corpus is generated there once.)
# Every run writes into a new folder, and deletions happen only between sets (then a minute's
# pause): ext4 skips inodes deleted in the last seconds when it allocates new ones
# (`recently_deleted`, `find_inode_bit` in perf), so emptying the output before each run made
# the next run pay for it, the more so the more inodes (folders) a tool creates.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:-/tmp/postie-bench-unpack}
runs=${RUNS:-3}

(cd "$repo" && cargo build --release --quiet)
postie="$repo/target/release/postie"
mkdir -p "$work"
[ -d "$work/small" ] || python3 "$here/gen.py" "$work"

cmd_for() { # set tool -> a shell command that unpacks every message of the set into a new
  # folder under $work/out (never one emptied by rm: see the note at the top)
  local set=$1 tool=$2 src="$work/$1" out='$o'
  local fresh="o=\$(mktemp -d $work/out/run.XXXXXX) && "
  case $tool in
    postie)  echo "$fresh$postie unpack $src/*.eml --out $out" ;;
    base)    echo "$fresh$POSTIE_BASE unpack $src/*.eml --out $out" ;;
    ripmime) echo "${fresh}ripmime -i $src -d $out >/dev/null" ;;
    munpack) echo "${fresh}munpack -q -f -C $out $src/*.eml >/dev/null" ;;
    mshow)   echo "${fresh}cd $out && for m in $src/*.eml; do mshow -x \$m >/dev/null; done" ;;
    python)  echo "${fresh}python3 $here/py_unpack.py $out $src/*.eml" ;;
  esac
}

read -r -a tools <<< "${TOOLS:-postie ripmime munpack mshow python}"
[ -n "${POSTIE_BASE:-}" ] && tools+=(base)
for set in ${SETS:-small large}; do
  echo "== $set: $(ls "$work/$set" | wc -l) messages, $(du -sh "$work/$set" | cut -f1)"
  args=()
  for tool in "${tools[@]}"; do
    args+=(-n "$tool" "$(cmd_for "$set" "$tool")")
  done
  rm -rf "$work/out" && mkdir "$work/out" && sync && sleep 60
  hyperfine --runs "$runs" --warmup 1 \
    --export-markdown "$work/$set.md" --export-json "$work/$set.json" "${args[@]}"
  for tool in "${tools[@]}"; do
    rss=$(/usr/bin/time -v bash -c "$(cmd_for "$set" "$tool")" 2>&1 >/dev/null \
      | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
    echo "peak RSS $set $tool: ${rss} KB"
  done | tee "$work/$set.rss"
done
largest=$(ls -S "$work/large" | head -1)
echo "largest message: $(stat -c %s "$work/large/$largest") bytes"
rm -rf "$work/out"
