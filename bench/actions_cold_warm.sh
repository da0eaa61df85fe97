#!/usr/bin/env bash
# Cold vs warm cost of a job that uses actions/github-script@v7, through `slipway run` with the
# action mirrored in a data dir (no engine, no network).
#
#   cold:     the action's commit is not in the runner's cache: archive from the mirror + unpack
#   warm:     the commit is cached: only the metadata is read and node started
#   baseline: the same job with a `run: node -e ...` step instead (node's own start)
#
# Usage: bench/actions_cold_warm.sh [ROUNDS]   (SLIPWAY=path/to/slipway, CONFORMANCE=dir)
set -euo pipefail
rounds=${1:-5}
bin=${SLIPWAY:-target/debug/slipway}
conformance=${CONFORMANCE:-../shared/conformance/actions}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
g() { git -c user.name=bench -c user.email=bench@localhost "$@"; }

cp -a "$conformance/actions-github-script-v7" "$work/gs"
(cd "$work/gs" && g init -q -b main && g add -A -f . && g commit -qm snapshot && g tag v7)
mkdir -p "$work/data/actions/actions"
git clone -q --bare "$work/gs" "$work/data/actions/actions/github-script.git"

mkdir -p "$work/repo/.github/workflows"
cat > "$work/repo/.github/workflows/gs.yml" <<'YAML'
on: push
jobs:
  gs:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/github-script@v7
        with:
          script: return 1
YAML
cat > "$work/repo/.github/workflows/node.yml" <<'YAML'
on: push
jobs:
  node:
    runs-on: ubuntu-latest
    steps:
      - run: node -e "1"
YAML
(cd "$work/repo" && g init -q -b main && g add -A && g commit -qm wf)
sha=$(git -C "$work/gs" rev-parse HEAD)
# `slipway run` keeps its work (and the action cache) under the user's cache dir.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/slipway/runs/_actions/actions/github-script/$sha"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
run() {
  local start end
  start=$(ms)
  "$bin" run -C "$work/repo" --workflow ".github/workflows/$1" --data "$work/data" > /dev/null 2>&1 || { echo "slipway run $1 failed" >&2; exit 1; }
  end=$(ms)
  echo $((end - start))
}
for i in $(seq "$rounds"); do
  rm -rf "$cache"
  cold=$(run gs.yml)
  warm=$(run gs.yml)
  base=$(run node.yml)
  echo "round $i: cold ${cold} ms, warm ${warm} ms, baseline (node -e) ${base} ms"
done
