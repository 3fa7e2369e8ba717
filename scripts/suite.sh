#!/usr/bin/env bash
# The main job: set up the host (Docker's engine, mmdebstrap), build the
# harness, build the matched images if missing, run the study of the
# default suite (every scenario in scenarios/: every claim family into one
# folder, with its summary). Extra arguments go to `mistake-cost study`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
cargo build --release --locked 2>&1 | tail -n 3
exec ./target/release/mistake-cost study scenarios "$@"
