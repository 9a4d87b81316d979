#!/usr/bin/env bash
# Run the standard graphile-worker matrix on a scratch database and print one
# JSON line per run on stdout (diagnostics on stderr):
#   drain JOBS (default 100000) x processes {1,2} x concurrency {1,24,64} x {unbatched,batched}
#   latency at RATE (default 500) jobs/s for LAT_SECONDS (default 10) x {unbatched,batched}
# ONLY=drain or ONLY=latency runs just that half.
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (root) JOBS (100000) RATE (500) LAT_SECONDS (10) LAT_CONCURRENCY (24)
#      IDLE_WAIT (900) IDLE_MAX_BUSY (15) MAX_FOREIGN_PCT (10)
#      MAX_OTHER_DB_XACTS (50) TRIES (3)
# The scratch database bench_graphile_<pid> is created here and dropped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NODE=$(./setup.sh)
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=root}"
export PGHOST PGPORT PGUSER
JOBS=${JOBS:-100000} RATE=${RATE:-500} LAT_SECONDS=${LAT_SECONDS:-10} LAT_C=${LAT_CONCURRENCY:-24}
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

# Run one benchmark; if other processes took more than MAX_FOREIGN_PCT
# (default 10) % of the CPU during it (bench.mjs reports foreign_cpu_pct), or
# other databases on the server ran more than MAX_OTHER_DB_XACTS (default 50)
# transactions (other_db_xacts), wait for idle and retry, up to TRIES
# (default 3) times; print the last line.
bench() {
  local try line foreign otherdb
  for (( try = 1; try <= ${TRIES:-3}; try++ )); do
    wait_idle
    line=$("$NODE" bench.mjs "$@")
    foreign=$(grep -o '"foreign_cpu_pct":[0-9.]*' <<<"$line" | cut -d: -f2)
    otherdb=$(grep -o '"other_db_xacts":[0-9.]*' <<<"$line" | cut -d: -f2)
    if awk -v f="${foreign:-0}" -v m="${MAX_FOREIGN_PCT:-10}" \
           -v x="${otherdb:-0}" -v mx="${MAX_OTHER_DB_XACTS:-50}" 'BEGIN { exit !(f <= m && x <= mx) }'; then
      break
    fi
    echo "matrix: try $try of '$*' had ${foreign}% foreign CPU, ${otherdb} transactions in other databases" >&2
  done
  echo "$line"
}

[[ "${ONLY:-drain}" == drain ]] && for batched in "" "--batched"; do
  for p in 1 2; do
    for c in 1 24 64; do
      bench drain --db "$DB" --jobs "$JOBS" --processes "$p" --concurrency "$c" $batched
    done
  done
done
[[ "${ONLY:-latency}" == latency ]] && for batched in "" "--batched"; do
  bench latency --db "$DB" --rate "$RATE" --seconds "$LAT_SECONDS" --concurrency "$LAT_C" $batched
done
