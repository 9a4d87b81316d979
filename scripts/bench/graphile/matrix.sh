#!/usr/bin/env bash
# Run the standard graphile-worker matrix on a scratch database and print one
# JSON line per run on stdout (diagnostics on stderr):
#   drain JOBS (default 100000) x processes {1,2} x concurrency {1,24,64} x {unbatched,batched}
#   latency at RATE (default 500) jobs/s for SECONDS (default 10) x {unbatched,batched}
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (root) JOBS RATE SECONDS LAT_CONCURRENCY (24)
# The scratch database bench_graphile_<pid> is created here and dropped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NODE=$(./setup.sh)
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=root}"
export PGHOST PGPORT PGUSER
JOBS=${JOBS:-100000} RATE=${RATE:-500} SECONDS_=${SECONDS:-10} LAT_C=${LAT_CONCURRENCY:-24}
dbname="bench_graphile_$$"
createdb "$dbname"
trap 'dropdb --if-exists "$dbname"' EXIT
DB="postgres://$PGUSER@$PGHOST:$PGPORT/$dbname"

for batched in "" "--batched"; do
  for p in 1 2; do
    for c in 1 24 64; do
      "$NODE" bench.mjs drain --db "$DB" --jobs "$JOBS" --processes "$p" --concurrency "$c" $batched
    done
  done
done
for batched in "" "--batched"; do
  "$NODE" bench.mjs latency --db "$DB" --rate "$RATE" --seconds "$SECONDS_" --concurrency "$LAT_C" $batched
done
