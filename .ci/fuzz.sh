#!/usr/bin/env bash
# CI: build every cargo-fuzz target (fuzz/) and run each briefly on its seed corpus, so the
# targets keep building and their invariants keep holding. Deterministic: a fixed seed and
# a fixed number of runs (not wall time), on a fresh copy of the seeds, so a result does not
# depend on the machine's speed or on what earlier local runs added to fuzz/corpus.
# Counts are calibrated to about 20 s a target on a 2-core machine; POSTIE_FUZZ_SCALE
# multiplies them (e.g. 0.1 for a quick check).
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/setup/cargo-fuzz.sh >/dev/null

# Same flags for build and run (a difference would rebuild): release with the fuzz crate's
# profile (debug assertions and overflow checks for postie, not for mail-parser), and no
# sanitizer: postie forbids unsafe code, so ASan would only slow the search.
flags=(-O -s none)
cargo +nightly fuzz build "${flags[@]}"

# target=runs: about 20 s each on a 2-core machine. Calibrated by a full `.ci/run` on a fresh
# clone (2026-12-03, CI's own process at nice 0 beside background jobs at nice 19): a third
# of these counts took 4-7 s a target; these took 13-19 s (smtp_reply 32 s at 1.2M runs).
runs=(
  url=360000
  cookie_jar=600000
  set_cookie=90000
  pop3=510000
  smtp_reply=800000
  unpack=24000
  batch=540000
)

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
fuzz/seed.sh "$corpus" >/dev/null
scale=${POSTIE_FUZZ_SCALE:-1}
for entry in "${runs[@]}"; do
  target=${entry%%=*}
  n=$(awk -v n="${entry#*=}" -v s="$scale" 'BEGIN { printf "%d", n * s < 1 ? 1 : n * s }')
  mkdir -p "fuzz/artifacts/$target"
  echo "== fuzz $target ($n runs)"
  start=$SECONDS
  log="$corpus/$target.log"
  dict=()
  [ -f "fuzz/dicts/$target.dict" ] && dict=(-dict="fuzz/dicts/$target.dict")
  if ! cargo +nightly fuzz run "${flags[@]}" "$target" "$corpus/$target" -- \
    -seed=1 -runs="$n" -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
    -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz $target failed: the input is in fuzz/artifacts/$target/ (README: Fuzzing)"
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|Done )' "$log" || true
  echo "   $((SECONDS - start)) s"
done
