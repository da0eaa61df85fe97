#!/usr/bin/env bash
# The soak of issue 22 at full size: `bench/soak.sh [RUNS] [KILL_EVERY_S]` (default 5,000 runs, a
# kill -9 of the engine 1 s in and then every 20 s) runs the e2e soak test (tests/e2e/soak_e2e.rs:
# 16 parallel dispatchers, a 3-job workflow, 2 embedded runners, each job's marker checked)
# against a release build of `slipway` (`SLIPWAY_SOAK_PROFILE=debug`: the debug build), and
# prints its `soak:` line (throughput, p50/p99/max API latency, peak RSS). The whole output is
# kept in bench/results/soak-<UTC time>.log (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5000}"
kill_every="${2:-20}"
profile="${SLIPWAY_SOAK_PROFILE:-release}"
if [ "$profile" = release ]; then
    cargo build --release --bin slipway
fi
binary="$PWD/target/$profile/slipway"
log="bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "soak: $runs runs, kill -9 every ${kill_every} s, $profile build; output in $log" >&2
uptime >"$log"
SLIPWAY_SOAK_BIN="$binary" \
SLIPWAY_SOAK_RUNS="$runs" \
SLIPWAY_SOAK_KILL_EVERY_S="$kill_every" \
    timeout 3600 cargo test --test e2e -- --exact \
    soak_e2e::sixteen_dispatchers_and_a_kill_every_20_s_lose_nothing_and_run_each_job_once \
    --nocapture >>"$log" 2>&1 || { tail -40 "$log"; exit 1; }
uptime >>"$log"
grep '^soak:' "$log"
