#!/usr/bin/env bash
# The fuzz step (.ci/fuzz.sh) needs a nightly toolchain and cargo-fuzz.
set -euo pipefail
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
cargo +nightly fuzz --version
