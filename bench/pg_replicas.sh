#!/usr/bin/env bash
# B1, B3 and B4 on PostgreSQL with 1 and 3 engine replicas (a private cluster, N `slipway serve`
# on one database and data dir, 2 runners given every replica's URL). See bench/README.md.
#   bench/pg_replicas.sh --no-build                  # release binary as built, full sizes
#   SLIPWAY_BIN=target/debug/slipway bench/pg_replicas.sh --quick --pushes 3 --drain-jobs 20
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/pg_replicas.py" "$@"
