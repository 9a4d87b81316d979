#!/usr/bin/env bash
# Run the standard graphile-worker matrix on a scratch database and print one
# JSON line per run on stdout (diagnostics on stderr):
#   drain JOBS (default 100000) x processes {1,2} x concurrency {1,24,64} x {unbatched,batched}
#   latency at RATE (default 500) jobs/s for SECONDS (default 10) x {unbatched,batched}
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (root) JOBS RATE SECONDS LAT_CONCURRENCY (24)
#      IDLE_WAIT (900) IDLE_MAX_BUSY (15)
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

# The machine has 2 cores shared with whatever else runs (e.g. a cargo build):
# before each run wait (up to IDLE_WAIT seconds, default 900) until the CPUs
# are at most IDLE_MAX_BUSY% (default 15) busy over 3 s, so runs don't
# measure someone else's compile.
cpu_busy() {
  local a b
  read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ < /proc/stat
  sleep 3
  read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ < /proc/stat
  local idle=$(( (b4 + b5) - (a4 + a5) ))
  local total=$(( (b1+b2+b3+b4+b5+b6+b7+b8) - (a1+a2+a3+a4+a5+a6+a7+a8) ))
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
wait_idle() {
  local deadline=$(( $(date +%s) + ${IDLE_WAIT:-900} )) busy
  while busy=$(cpu_busy); (( busy > ${IDLE_MAX_BUSY:-15} )); do
    if (( $(date +%s) >= deadline )); then
      echo "matrix: machine still ${busy}% busy; running anyway" >&2
      return
    fi
    echo "matrix: machine ${busy}% busy; waiting" >&2
  done
}

for batched in "" "--batched"; do
  for p in 1 2; do
    for c in 1 24 64; do
      wait_idle
      "$NODE" bench.mjs drain --db "$DB" --jobs "$JOBS" --processes "$p" --concurrency "$c" $batched
    done
  done
done
for batched in "" "--batched"; do
  wait_idle
  "$NODE" bench.mjs latency --db "$DB" --rate "$RATE" --seconds "$SECONDS_" --concurrency "$LAT_C" $batched
done
