"""Queue benchmark: Stratus and graphile-worker side by side, same PostgreSQL, same run.

Usage: bench_queue.py STRATUS_BIN NODE_BIN DATABASE_URL [--jobs N] [--quick]

Protocol (graphile-worker's perfTest, applied to both): one bulk insert of N no-op jobs, then
P worker processes started with `--once` drain the queue; the start-up time of P `--once`
processes on an empty queue (median of 3) is subtracted. Latency: one job at a time at a
steady 500 jobs/s for 10 s, pickup delay measured in the handler (first second dropped).
"""
import argparse, json, os, statistics, subprocess, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("stratus")
parser.add_argument("node")
parser.add_argument("db")
parser.add_argument("--jobs", type=int, default=100_000)
parser.add_argument("--quick", action="store_true", help="fewer configurations")
args = parser.parse_args()

here = os.path.dirname(os.path.abspath(__file__))
graphile = os.path.join(here, "bench", "graphile", "bench.mjs")
env = dict(os.environ, DATABASE_URL=args.db, STRATUS_LOG="error", RUST_BACKTRACE="0")


def stratus(*argv):
    out = subprocess.run([args.stratus, "bench", *argv], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def stratus_workers(processes, concurrency):
    """Wall time of P `stratus worker --once` processes run at once."""
    start = time.perf_counter()
    procs = [subprocess.Popen([args.stratus, "worker", "--once", "--concurrency", str(concurrency)], env=env)
             for _ in range(processes)]
    for p in procs:
        if p.wait() != 0:
            sys.exit("a stratus worker failed")
    return time.perf_counter() - start


def stratus_drain(processes, concurrency, keep_finished=False, tenant=False):
    if not keep_finished:
        stratus("reset")
    startup = statistics.median(stratus_workers(processes, concurrency) for _ in range(3))
    if keep_finished:
        # Only the benchmark's own jobs are counted; the million finished ones stay.
        subprocess.run(["psql", args.db, "-qc", "delete from job where kind = 'system.noop' and fair_seq <> 0"], check=True)
        # The deleted jobs, and every drain before, leave dead rows and index entries behind
        # (the claim index keeps one per claimed job). Autovacuum removes them in any real
        # deployment; it is off on the benchmark machine, so vacuum here, or each row would
        # walk past the dead entries of all the rows before it.
        subprocess.run(["psql", args.db, "-qc", "vacuum job"], check=True)
    stratus("enqueue", "--count", str(args.jobs), *(["--tenant"] if tenant else []))
    # As the graphile side does: flush dirty pages now, not during the timed drain.
    subprocess.run(["psql", args.db, "-qc", "checkpoint"], check=True)
    elapsed = stratus_workers(processes, concurrency) - startup
    done = stratus("verify", "--expect", str(args.jobs))
    assert done["ran_more_than_once"] == 0
    return args.jobs / elapsed


def graphile_run(*argv):
    out = subprocess.run([args.node, graphile, *argv, "--db", args.db], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def graphile_drain(processes, concurrency, batched):
    extra = ["--batched"] if batched else []
    r = graphile_run("drain", "--jobs", str(args.jobs), "--processes", str(processes), "--concurrency", str(concurrency), *extra)
    return r["jobs_per_second"]


configs = [(1, 24), (2, 24)] if args.quick else [(p, c) for p in (1, 2) for c in (1, 24, 64)]
print(f"Drain {args.jobs:,} queued no-op jobs (jobs/s; start-up subtracted)")
print(f"{'processes':>9} {'conc.':>5} {'stratus':>9} {'graphile':>9} {'graphile':>9} {'vs unbatched':>12} {'vs batched':>10}")
print(f"{'':>9} {'':>5} {'':>9} {'unbatched':>9} {'batched':>9} {'':>12} {'':>10}")
rows = []
for processes, concurrency in configs:
    s = stratus_drain(processes, concurrency)
    gu = graphile_drain(processes, concurrency, False)
    gb = graphile_drain(processes, concurrency, True)
    rows.append((processes, concurrency, s))
    print(f"{processes:>9} {concurrency:>5} {s:>9,.0f} {gu:>9,.0f} {gb:>9,.0f} {s / gu:>11.1f}x {s / gb:>9.2f}x", flush=True)

print()
print("Tenant jobs: each also writes queued, running and succeeded events for the live stream (jobs/s)")
print(f"{'processes':>9} {'conc.':>5} {'stratus':>9}")
for processes, concurrency in [(1, 24), (2, 24)]:
    t = stratus_drain(processes, concurrency, tenant=True)
    print(f"{processes:>9} {concurrency:>5} {t:>9,.0f}", flush=True)

print()
print("Enqueue-to-start latency at a steady 500 jobs/s for 10 s (ms)")
print(f"{'system':<22} {'p50':>6} {'p99':>6} {'max':>7}")
s = stratus("latency", "--rate", "500", "--seconds", "10", "--concurrency", "24")
print(f"{'stratus':<22} {s['p50_ms']:>6.2f} {s['p99_ms']:>6.2f} {s['max_ms']:>7.2f}", flush=True)
for batched in (False, True):
    extra = ["--batched"] if batched else []
    g = graphile_run("latency", "--rate", "500", "--seconds", "10", "--concurrency", "24", *extra)
    name = "graphile " + ("batched" if batched else "unbatched")
    print(f"{name:<22} {g['p50_ms']:>6.2f} {g['p99_ms']:>6.2f} {g['max_ms']:>7.2f}", flush=True)

print()
print("Drain again with 1,000,000 finished jobs left in the table (jobs/s)")
print(f"{'processes':>9} {'conc.':>5} {'empty table':>11} {'1M finished':>11} {'ratio':>6}")
stratus("reset")
stratus("fill-finished", "--count", "1000000")
for processes, concurrency, empty in rows:
    if concurrency == 1:
        continue
    full = stratus_drain(processes, concurrency, keep_finished=True)
    print(f"{processes:>9} {concurrency:>5} {empty:>11,.0f} {full:>11,.0f} {full / empty:>5.0%}", flush=True)
