#!/usr/bin/env bash
# The harness against what a user would write instead: the bash loop over
# the docker CLI in ../shared/bench/naive-failed-install.sh (or $NAIVE),
# on the same 12 trials (failed-install; apt, pip, nix; 4 repetitions),
# side by side in this one invocation so machine noise hits both:
#   loop, harness --jobs 1, harness at its default jobs, loop again.
# Then the per-phase floor of a trial (medians from the --jobs 1 run), the
# pip-venv set-up per trial (committed once, reused after), and crash-point
# exploration's time per point. Needs Docker's engine (scripts/setup-host.sh),
# mmdebstrap and dpkg-dev for the loop's images, python3.
#   bash scripts/bench.sh [--reps N] [--criterion] [--explore-all]
# --criterion also runs the criterion benches (cargo bench: pure snapshot
# costs, and a bare container lifecycle against the harness's floor).
# --explore-all explores every class of kill-during-install (all points
# found represented; ~6.5 min on 2 cores) instead of a 10-point sample.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=4 criterion=0 explore_all=0
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --criterion) criterion=1; shift ;;
    --explore-all) explore_all=1; shift ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
naive=${NAIVE:-../shared/bench/naive-failed-install.sh}
[ -f "$naive" ] || { echo "bench.sh: the naive loop is not at $naive (set NAIVE=...)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench.sh: python3 is needed for the tables" >&2; exit 1; }

if [ $criterion = 1 ]; then
  echo "== cargo bench (criterion)"
  cargo bench -p mistake-cost --bench snapshot --bench trial_overhead 2>&1 | grep -v '^\s*$' | grep -Ev '^(Gnuplot|Benchmarking .*: (Warming|Collecting|Analyzing))'
fi

cargo build --release --locked 2>&1 | tail -n 1
bin=./target/release/mistake-cost
out="results/bench-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
# The issue's 12 trials: failed-install as shipped, three approaches.
sed 's/^approaches = .*/approaches = ["apt", "pip", "nix"]/' scenarios/failed-install.toml >"$out/failed-install-3.toml"
sed 's/^approaches = .*/approaches = ["pip-venv"]/' scenarios/failed-install.toml >"$out/failed-install-venv.toml"
"$bin" images build >/dev/null
# Both sides warm up untimed: the loop builds its images and fixtures on
# first use, the harness scans a new image's manifest once (then cached).
bash "$naive" 1 >/dev/null
"$bin" run "$out/failed-install-3.toml" --reps 1 --out "$out/warm-up" >/dev/null 2>&1

now() { date +%s.%N; }
timed() { # label command...
  local s e; s=$(now); "${@:2}" >"$out/$1.log" 2>&1; e=$(now)
  echo "$1 $(python3 -c "print($e - $s)")" >>"$out/walls"
}
echo "== side by side: $((reps * 3)) failed-install trials each"
: >"$out/walls"
timed loop-1 bash "$naive" "$reps"
timed harness-jobs-1 "$bin" run "$out/failed-install-3.toml" --reps "$reps" --jobs 1 --out "$out/jobs-1"
timed harness-default "$bin" run "$out/failed-install-3.toml" --reps "$reps" --out "$out/jobs-default"
timed loop-2 bash "$naive" "$reps"
timed pip-venv "$bin" run "$out/failed-install-venv.toml" --reps "$reps" --jobs 1 --out "$out/venv"
# Crash-point exploration of kill-during-install: by default a sample
# (10 per approach, for the time per point); --explore-all crashes one
# point per class, so every point found is represented.
if [ $explore_all = 1 ]; then
  timed explore "$bin" explore scenarios/kill-during-install.toml --out "$out/explore"
else
  timed explore "$bin" explore scenarios/kill-during-install.toml --max-points 10 --out "$out/explore"
fi

python3 - "$out" <<'PY'
import csv, json, statistics as st, sys
out = sys.argv[1]
walls = dict(l.split() for l in open(f"{out}/walls"))
walls = {k: float(v) for k, v in walls.items()}
loop = (walls["loop-1"] + walls["loop-2"]) / 2
print(f"\n{'':<22}{'wall s':>8}{'ratio to the loop':>20}")
for k in ["loop-1", "loop-2", "harness-jobs-1", "harness-default"]:
    print(f"{k:<22}{walls[k]:>8.1f}{loop / walls[k]:>19.2f}x")
print("ratio = the loop's mean wall / this wall (throughput); the harness also hashes, checks and recovers.")

def med(xs):
    xs = list(xs)
    return st.median(xs) if xs else float("nan")

rows = [json.loads(l) for l in open(f"{out}/jobs-1/trials.jsonl")]
print(f"\nper-phase floor at --jobs 1 (medians, ms; {out}/jobs-1)")
head = ["approach", "n", "wall", "overhead", "start", "snapshots", "view", "hash", "in-container", "op"]
print("".join(f"{h:>13}" for h in head))
for a in ["apt", "pip", "nix"]:
    rs = [r for r in rows if r["record"]["approach"] == a and not r["record"]["error"]]
    if not rs:
        continue
    t = lambda k: med(r["history"]["timings"][k] for r in rs)
    inside = med(sum(s["ms"] for s in r["history"]["steps"]) for r in rs)
    op = med(r["record"]["operation_ms"] for r in rs)
    vals = [a, len(rs), med(r["record"]["trial_wall_ms"] for r in rs), med(r["record"]["overhead_ms"] for r in rs),
            t("container_start_ms"), t("snapshot_ms"), t("snapshot_view_ms"), t("snapshot_hash_ms"), inside, op]
    print("".join(f"{v:>13}" if isinstance(v, (str, int)) else f"{v:>13.0f}" for v in vals))
print("overhead = wall - commands timed inside the container; start = the wait for a container started ahead (pool).")

venv = [json.loads(l) for l in open(f"{out}/venv/trials.jsonl")]
print(f"\npip-venv set-up per trial, in plan order ({out}/venv):")
for r in venv:
    h = r["history"]
    ran = sum(s["ms"] for s in h["steps"] if s["phase"] == "setup")
    reused = h["timings"].get("setup_reused_ms", 0)
    how = f"reused a committed image (made once in {reused:.0f} ms)" if reused else "ran in the trial"
    print(f"  rep {r['record']['rep']}: set-up steps {ran:>7.0f} ms, {how}")

points = list(csv.DictReader(open(f"{out}/explore/crashpoints.csv")))
dries = json.load(open(f"{out}/explore/points.json"))
found = sum(len(d["points"]) for d in dries)
represented = sum(d.get("represented", 0) for d in dries)
print(f"\nexplore: {len(points)} crash points in {walls['explore']:.0f} s wall, "
      f"{walls['explore'] / max(len(points), 1):.1f} s a point (dry runs included; {out}/explore); "
      f"{found} found, {represented} represented by class")
PY
echo "results: $out"
