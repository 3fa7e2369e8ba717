#!/usr/bin/env bash
# Benchmarks. 1) criterion (cargo bench): pure snapshot costs and, on real
# Docker, a bare container lifecycle against the harness's floor trial.
# 2) The quick suite scenarios/bench, run end to end with 3 repetitions,
# then the median trial wall time and overhead share per approach from its
# trials.csv. Needs Docker's engine running (scripts/setup-host.sh) and the
# matched images (built on demand by `run`). Extra arguments go to `run`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "bench.sh: python3 is needed to summarise trials.csv" >&2; exit 1; }

echo "== cargo bench (criterion)"
# Only the criterion targets: the lib's and bin's unit tests would be listed as ignored.
cargo bench -p mistake-cost --bench snapshot --bench trial_overhead 2>&1 | grep -v '^\s*$' | grep -Ev '^(Gnuplot|Benchmarking .*: (Warming|Collecting|Analyzing))'

echo "== quick suite: scenarios/bench"
cargo build --release --locked 2>&1 | tail -n 1
out="results/bench-$(date -u +%Y%m%dT%H%M%SZ)"
start=$(date +%s.%N)
./target/release/mistake-cost run scenarios/bench --reps 3 --out "$out" "$@"
end=$(date +%s.%N)
python3 - "$out/trials.csv" "$start" "$end" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["outcome"] != "errored"]
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"\nquick suite: {wall:.1f} s wall for {len(rows)} trials (not errored); {sys.argv[1]}")
print(f"{'scenario':<22} {'approach':<9} {'n':>3} {'trial wall ms':>14} {'overhead ms':>12} {'overhead share':>15}")
groups = {}
for r in rows:
    groups.setdefault((r["scenario"], r["approach"]), []).append(r)
order = {"apt": 0, "pip": 1, "pip-venv": 2, "nix": 3}
for (s, a), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
    w = [float(r["trial_wall_ms"]) for r in rs]
    o = [float(r["overhead_ms"]) for r in rs]
    share = statistics.median(oi / wi for oi, wi in zip(o, w) if wi > 0)
    print(f"{s:<22} {a:<9} {len(rs):>3} {statistics.median(w):>14.0f} {statistics.median(o):>12.0f} {share:>14.0%}")
print("medians per scenario x approach; overhead = wall time not spent in commands timed inside the container; n < 10 is a small sample.")
PY
