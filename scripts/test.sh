#!/usr/bin/env bash
# The test command: unit tests, then integration tests against the real
# Docker engine (they build the matched images if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
cargo build --release --locked 2>&1 | tail -n 3
# Lints are part of the tests: a warning fails the build (issue 9).
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --release --locked --all-targets -- -D warnings
else
  rustup component add clippy && cargo clippy --release --locked --all-targets -- -D warnings
fi
cargo test --release --locked -- --test-threads=1
