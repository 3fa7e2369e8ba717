#!/usr/bin/env bash
# The test command: unit tests, then integration tests against the real
# Docker engine (they build the matched images if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
cargo build --release --locked 2>&1 | tail -n 3
cargo test --release --locked -- --test-threads=1
