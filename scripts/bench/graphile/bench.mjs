#!/usr/bin/env node
// graphile-worker side of the Stratus queue benchmark.
//
// Run with the Node 22 binary installed by ./setup.sh (graphile-worker 0.18
// needs Node >= 22.18), e.g.
//
//   NODE=$(scripts/bench/graphile/setup.sh)
//   $NODE scripts/bench/graphile/bench.mjs drain --db postgres://root@127.0.0.1:5432/x \
//       --jobs 100000 --processes 2 --concurrency 24 --batched
//
// Every subcommand prints exactly ONE JSON line on stdout; all diagnostics go
// to stderr. A failed check exits non-zero without printing a result line.
// See README.md for the protocol.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { Logger, run, runMigrations } from "graphile-worker";
import {
  DEFAULT_BATCH_DELAY_MS,
  DEFAULT_LOCAL_QUEUE_SIZE,
  DEFAULT_REFETCH_DELAY_MS,
  batchingOptions,
  commonWorkerOptions,
} from "./graphile.config.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const CLI = fileURLToPath(
  new URL("./node_modules/graphile-worker/dist/cli.js", import.meta.url),
);
const CONFIG = fileURLToPath(new URL("./graphile.config.mjs", import.meta.url));
const VERSION = JSON.parse(
  readFileSync(
    new URL("./node_modules/graphile-worker/package.json", import.meta.url),
    "utf8",
  ),
).version;
const SYSTEM = "graphile-worker";
const SCHEMA = "graphile_worker";

const log = (...args) => console.error("[bench-graphile]", ...args);
const die = (msg) => {
  console.error(`[bench-graphile] FAILED: ${msg}`);
  process.exit(1);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();
const hrSeconds = () => Number(process.hrtime.bigint()) / 1e9;
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

if (Number(process.versions.node.split(".")[0]) < 22) {
  die(
    `graphile-worker ${VERSION} needs Node >= 22; this is ${process.version} ` +
      `(${process.execPath}). Use the binary printed by setup.sh.`,
  );
}

// Loggers: keep stdout for the single JSON result line.
const quietLogger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") {
    process.stderr.write(`[graphile-worker ${level}] ${message}\n`);
  }
});

// ---------------------------------------------------------------------------
// interference check
//
// The machine is small and shared: a compile running next to a benchmark
// halves its numbers. Measure how much CPU went to anything else during the
// timed part: total busy CPU (/proc/stat) minus this process and its waited-
// for children (the worker processes), minus PostgreSQL (every `postgres`
// process; the postmaster's cutime/cstime holds the backends that exited).
// Reported as foreign_cpu_pct = that CPU / (elapsed x cores), Linux only;
// iowait_pct likewise (time the CPUs sat waiting on disk, e.g. fsync).

const CLK_TCK = 100; // USER_HZ on Linux

function procTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" ");
    // fields 14..17 (utime stime cutime cstime) are f[11..14]
    return { comm, ticks: +f[11] + +f[12] + +f[13] + +f[14] };
  } catch {
    return null; // gone, or no /proc
  }
}

function cpuSnapshot() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    const busy = total - cpu[3] - cpu[4]; // minus idle, iowait
    let postgres = 0;
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const p = procTicks(name);
      if (p && p.comm === "postgres") postgres += p.ticks;
    }
    const own = procTicks("self")?.ticks ?? 0;
    return { busy, iowait: cpu[4], postgres, own, t: hrSeconds() };
  } catch {
    return null;
  }
}

function interference(a, b) {
  if (!a || !b) return { foreign_cpu_pct: null, iowait_pct: null };
  const foreignTicks = b.busy - a.busy - (b.postgres - a.postgres) - (b.own - a.own);
  const capacity = CLK_TCK * (b.t - a.t) * availableParallelism();
  const pct = (ticks) => round((100 * Math.max(0, ticks)) / capacity, 1);
  return { foreign_cpu_pct: pct(foreignTicks), iowait_pct: pct(b.iowait - a.iowait) };
}

// The PostgreSQL server is shared too: count what the OTHER databases did
// during the run (pg_stat_database; PG 15 flushes these about every second).
async function otherDbSnapshot(client) {
  const { rows } = await client.query(`
    select datid::text as datid,
           (xact_commit + xact_rollback)::float8 as xacts,
           (tup_inserted + tup_updated + tup_deleted)::float8 as tuples
    from pg_stat_database
    where datname is not null and datname <> current_database()`);
  return new Map(rows.map((r) => [r.datid, r]));
}

/** Per-database deltas (databases created meanwhile count in full, dropped ones not at all). */
function otherDbActivity(a, b) {
  let xacts = 0;
  let tuples = 0;
  for (const [datid, after] of b) {
    const before = a.get(datid) ?? { xacts: 0, tuples: 0 };
    xacts += Math.max(0, after.xacts - before.xacts);
    tuples += Math.max(0, after.tuples - before.tuples);
  }
  return { other_db_xacts: xacts, other_db_tuples: tuples };
}

function warnInterference({ foreign_cpu_pct: f, other_db_xacts: x, other_db_tuples: t }) {
  if (f != null && f > 5) {
    log(`WARNING: ${f}% of the CPU went to other processes during the run`);
  }
  if (x > 0 || t > 0) {
    log(`WARNING: other databases on the server ran ${x} transactions / wrote ${t} rows during the run`);
  }
}

// ---------------------------------------------------------------------------
// argument parsing

const COMMON_OPTIONS = {
  db: { type: "string" },
  batched: { type: "boolean", default: false },
  "local-queue-size": { type: "string", default: String(DEFAULT_LOCAL_QUEUE_SIZE) },
  "refetch-delay-ms": { type: "string", default: String(DEFAULT_REFETCH_DELAY_MS) },
  "batch-delay-ms": { type: "string", default: String(DEFAULT_BATCH_DELAY_MS) },
  "timeout-seconds": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
};

const SUBCOMMANDS = {
  drain: {
    options: {
      ...COMMON_OPTIONS,
      jobs: { type: "string" },
      processes: { type: "string", default: "1" },
      concurrency: { type: "string", default: "24" },
      "startup-runs": { type: "string", default: "3" },
      "max-pool-size": { type: "string" },
    },
    required: ["db", "jobs"],
    fn: drain,
  },
  latency: {
    options: {
      ...COMMON_OPTIONS,
      rate: { type: "string" },
      seconds: { type: "string" },
      concurrency: { type: "string", default: "24" },
      "warmup-seconds": { type: "string", default: "1" },
    },
    required: ["db", "rate", "seconds"],
    fn: latency,
  },
  "fill-finished": {
    options: { db: { type: "string" }, count: { type: "string" } },
    required: [],
    fn: fillFinished,
  },
};

const USAGE = `usage (run with the Node 22 binary printed by setup.sh):
  bench.mjs drain --db URL --jobs N [--processes P=1] [--concurrency C=24] [--batched]
                  [--startup-runs K=3] [--max-pool-size M=C+1, capped to free
                  server connections] [--timeout-seconds T=900]
  bench.mjs latency --db URL --rate R --seconds S [--concurrency C=24] [--batched]
                  [--warmup-seconds W=1] [--timeout-seconds T=S+60]
  bench.mjs fill-finished --db URL --count N      (no-op, see README)
batching knobs (only with --batched):
  --local-queue-size ${DEFAULT_LOCAL_QUEUE_SIZE}  --refetch-delay-ms ${DEFAULT_REFETCH_DELAY_MS} (0 = off)  --batch-delay-ms ${DEFAULT_BATCH_DELAY_MS}`;

function parseIntArg(values, name, { min = 0 } = {}) {
  const raw = values[name];
  const n = Number(raw);
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < min) {
    die(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function parseNumArg(values, name, { min = 0 } = {}) {
  const raw = values[name];
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    die(`--${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function batchingFromArgs(values) {
  return {
    batched: values.batched,
    localQueueSize: parseIntArg(values, "local-queue-size", { min: 2 }),
    refetchDelayMs: parseNumArg(values, "refetch-delay-ms"),
    batchDelayMs: parseNumArg(values, "batch-delay-ms"),
  };
}

function batchingReport(b) {
  return b.batched
    ? {
        local_queue_size: b.localQueueSize,
        refetch_delay_ms: b.refetchDelayMs,
        batch_delay_ms: b.batchDelayMs,
      }
    : {};
}

// ---------------------------------------------------------------------------
// database helpers

async function withClient(db, fn) {
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Install/upgrade graphile-worker's schema (same as `cli.js --schema-only`). */
async function migrate(db) {
  await runMigrations({ connectionString: db, logger: quietLogger });
}

/**
 * Flush dirty buffers before a timed section, so that a checkpoint left over
 * from earlier writes (e.g. a previous drain) doesn't stall commits in the
 * middle of the measurement. Needs superuser (or pg_checkpoint on PG 15+);
 * skipped with a warning otherwise.
 */
async function checkpoint(client) {
  try {
    await client.query("checkpoint");
  } catch (e) {
    log(`CHECKPOINT failed (${e.message}); continuing without it`);
  }
}

/** Remove every job (and job queue) so a run starts from an empty queue. */
async function clearQueue(client) {
  await client.query(
    `truncate ${SCHEMA}._private_jobs, ${SCHEMA}._private_job_queues`,
  );
}

/**
 * perfTest gives each process a pool of C+1 connections. P*(C+1) can exceed
 * the server's max_connections (100 by default: 2 x 65 does), so cap the
 * per-process pool to what the server has free (graphile-worker allows a
 * pool smaller than concurrentJobs; minimum 2).
 */
async function choosePoolSize(client, { processes, concurrency, requested }) {
  const wanted = requested ?? concurrency + 1;
  const {
    rows: [row],
  } = await client.query(`
    select current_setting('max_connections')::int
             - current_setting('superuser_reserved_connections')::int
             - (select count(*)::int from pg_stat_activity where backend_type = 'client backend')
             as free`);
  const margin = 4; // leave a few for psql / the other side's tooling
  const perProcess = Math.floor((row.free - margin) / processes);
  if (perProcess < 2) {
    die(`only ${row.free} free connections on the server; cannot give ${processes} processes 2 each`);
  }
  if (wanted > perProcess) {
    log(
      `max pool size capped from ${wanted} to ${perProcess} per process ` +
        `(${row.free} free server connections, ${processes} processes)`,
    );
    return perProcess;
  }
  return Math.max(2, wanted);
}

async function queueStats(client) {
  const {
    rows: [row],
  } = await client.query(`
    select count(*)::int as total,
           count(*) filter (where attempts > 0)::int as attempted,
           count(*) filter (where locked_at is not null)::int as locked,
           count(*) filter (where last_error is not null)::int as errored
    from ${SCHEMA}._private_jobs`);
  return row;
}

async function assertQueueEmpty(client, what) {
  const s = await queueStats(client);
  if (s.total !== 0) {
    const {
      rows: [sample],
    } = await client.query(
      `select last_error from ${SCHEMA}._private_jobs where last_error is not null limit 1`,
    );
    die(
      `${what}: queue not empty afterwards: ${s.total} jobs left ` +
        `(${s.attempted} attempted, ${s.locked} locked, ${s.errored} with errors` +
        `${sample ? `; e.g. ${JSON.stringify(sample.last_error)}` : ""})`,
    );
  }
}

// ---------------------------------------------------------------------------
// drain: perfTest protocol

/**
 * Spawn `count` concurrent `cli.js --once` processes and wait for all of them.
 * Returns the wall-clock seconds from first spawn to last exit.
 */
async function runOnceProcesses({ db, count, concurrency, poolSize, batching, timeoutSeconds, label }) {
  const env = {
    ...process.env,
    NO_LOG_SUCCESS: "1", // as perfTest/run.js: don't log each completed job
    BENCH_BATCHED: batching.batched ? "1" : "0",
    BENCH_LOCAL_QUEUE_SIZE: String(batching.localQueueSize),
    BENCH_REFETCH_DELAY_MS: String(batching.refetchDelayMs),
    BENCH_BATCH_DELAY_MS: String(batching.batchDelayMs),
  };
  delete env.DATABASE_URL;
  const args = [
    CLI,
    "--config", CONFIG,
    "--connection", db,
    "--once",
    "--jobs", String(concurrency),
    "--max-pool-size", String(poolSize), // perfTest: -m CONCURRENCY+1
  ];
  const children = [];
  const start = hrSeconds();
  for (let i = 0; i < count; i++) {
    // process.execPath is the Node 22 binary this script runs under.
    const child = spawn(process.execPath, args, {
      cwd: HERE,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const done = new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => resolve({ code, signal, output }));
    });
    children.push({ child, done });
  }
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutSeconds * 1000);
  });
  const all = Promise.all(children.map((c) => c.done));
  const outcome = await Promise.race([all, timeout]);
  const elapsed = hrSeconds() - start;
  clearTimeout(timer);
  if (outcome === "timeout") {
    for (const { child } of children) {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, "SIGKILL");
      }
    }
    await all.catch(() => {});
    die(`${label}: worker processes still running after ${timeoutSeconds}s; killed them`);
  }
  outcome.forEach(({ code, signal, output }, i) => {
    if (code !== 0) {
      die(
        `${label}: worker process ${i + 1}/${count} exited with ` +
          `${signal ? `signal ${signal}` : `code ${code}`}:\n${output}`,
      );
    }
  });
  return elapsed;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function drain(values) {
  const db = values.db;
  const jobs = parseIntArg(values, "jobs", { min: 1 });
  const processes = parseIntArg(values, "processes", { min: 1 });
  const concurrency = parseIntArg(values, "concurrency", { min: 1 });
  const startupRuns = parseIntArg(values, "startup-runs", { min: 1 });
  const timeoutSeconds = values["timeout-seconds"]
    ? parseNumArg(values, "timeout-seconds", { min: 1 })
    : 900;
  const batching = batchingFromArgs(values);
  const requestedPool =
    values["max-pool-size"] != null
      ? parseIntArg(values, "max-pool-size", { min: 2 })
      : undefined;

  log(`migrating graphile_worker schema (v${VERSION})`);
  await migrate(db);

  await withClient(db, async (client) => {
    await clearQueue(client);
    const poolSize = await choosePoolSize(client, {
      processes,
      concurrency,
      requested: requestedPool,
    });
    const common = { db, count: processes, concurrency, poolSize, batching, timeoutSeconds };

    // 1. Start-up/shut-down cost: the same P `--once` processes on an empty
    //    queue. (perfTest/run.js times one such run; we take the median of
    //    --startup-runs runs of exactly the process shape used below.)
    const startupSamples = [];
    for (let i = 0; i < startupRuns; i++) {
      startupSamples.push(await runOnceProcesses({ ...common, label: "startup run" }));
    }
    const startup = median(startupSamples);
    log(`startup (median of ${startupRuns}): ${startup.toFixed(3)}s`, startupSamples.map((s) => s.toFixed(3)));
    await assertQueueEmpty(client, "startup run");

    // 2. Enqueue N no-op jobs with ONE add_jobs() call (as perfTest's waves).
    const t0 = hrSeconds();
    const {
      rows: [{ added }],
    } = await client.query(
      `select count(*)::int as added
       from ${SCHEMA}.add_jobs(array(
         select json_populate_record(null::${SCHEMA}.job_spec,
                  json_build_object('identifier', 'noop', 'payload', json_build_object('id', i)))
         from generate_series(1, $1::int) i))`,
      [jobs],
    );
    const enqueueSeconds = hrSeconds() - t0;
    if (added !== jobs) die(`add_jobs inserted ${added} jobs, expected ${jobs}`);
    const { total } = await queueStats(client);
    if (total !== jobs) die(`queue holds ${total} jobs after enqueue, expected ${jobs}`);
    log(`enqueued ${jobs} jobs in ${enqueueSeconds.toFixed(3)}s`);
    await checkpoint(client);

    // 3. Drain with P concurrent `--once` processes at concurrency C.
    const dbBefore = await otherDbSnapshot(client);
    const cpuBefore = cpuSnapshot();
    const elapsed = await runOnceProcesses({ ...common, label: "drain run" });
    const foreign = {
      ...interference(cpuBefore, cpuSnapshot()),
      ...otherDbActivity(dbBefore, await otherDbSnapshot(client)),
    };

    // 4. Every job must have run (graphile-worker deletes completed jobs;
    //    failed ones stay with attempts > 0 and a last_error).
    await assertQueueEmpty(client, "drain run");

    const seconds = elapsed - startup;
    if (!(seconds > 0)) {
      die(
        `drain took ${elapsed.toFixed(3)}s, not more than the ${startup.toFixed(3)}s ` +
          `start-up time; use more jobs`,
      );
    }
    const result = {
      system: SYSTEM,
      version: VERSION,
      node: process.version,
      batched: batching.batched,
      ...batchingReport(batching),
      jobs,
      processes,
      concurrency,
      max_pool_size: poolSize,
      seconds: round(seconds),
      startup_seconds: round(startup),
      elapsed_seconds: round(elapsed),
      enqueue_seconds: round(enqueueSeconds),
      jobs_per_second: round(jobs / seconds, 1),
      ...foreign,
    };
    warnInterference(foreign);
    console.log(JSON.stringify(result));
  });
}

// ---------------------------------------------------------------------------
// latency: steady enqueue rate, pickup delay measured inside the task

function percentile(sorted, p) {
  // nearest-rank
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

async function latency(values) {
  const db = values.db;
  const rate = parseNumArg(values, "rate", { min: 0.001 });
  const durationSeconds = parseNumArg(values, "seconds", { min: 0.001 });
  const warmupSeconds = parseNumArg(values, "warmup-seconds");
  const concurrency = parseIntArg(values, "concurrency", { min: 1 });
  const timeoutSeconds = values["timeout-seconds"]
    ? parseNumArg(values, "timeout-seconds", { min: 1 })
    : durationSeconds + 60;
  const batching = batchingFromArgs(values);
  if (warmupSeconds >= durationSeconds) die("--seconds must exceed --warmup-seconds");

  const deadline = setTimeout(() => {
    die(`latency run still going after ${timeoutSeconds}s`);
  }, timeoutSeconds * 1000);
  deadline.unref();

  log(`migrating graphile_worker schema (v${VERSION})`);
  await migrate(db);
  await withClient(db, async (client) => {
    await clearQueue(client);
    await checkpoint(client);
  });

  // Pickup delays, indexed by job sequence number.
  const delays = new Map();
  let picked = 0;
  let allPickedResolve = null;
  let expected = Infinity;
  const taskList = {
    latency: (payload) => {
      const start = nowMs();
      delays.set(payload.seq, start - payload.t);
      picked++;
      if (picked >= expected && allPickedResolve) allPickedResolve();
    },
  };

  const runner = await run({
    taskList,
    noHandleSignals: true,
    logger: quietLogger,
    preset: {
      worker: {
        ...commonWorkerOptions,
        connectionString: db,
        concurrentJobs: concurrency,
        maxPoolSize: concurrency + 1, // perfTest: C+1
        ...batchingOptions(batching),
      },
    },
  });

  // Producer: its own small pool so one slow insert does not hold up the
  // next; the timestamp is taken just before the insert is issued, so any
  // queueing on the producer side counts against the queue (open loop).
  const producer = new pg.Pool({ connectionString: db, max: 4 });
  // Open all producer connections before timing.
  await Promise.all(
    Array.from({ length: 4 }, () =>
      producer.query(`select 1 from ${SCHEMA}._private_tasks limit 1`),
    ),
  );
  await sleep(500); // let the worker settle (perfTest sleeps 1s after warm-up)

  const intervalMs = 1000 / rate;
  const total = Math.max(1, Math.round(rate * durationSeconds));
  const inserts = [];
  const sentAt = new Array(total);
  const statsClient = new pg.Client({ connectionString: db });
  await statsClient.connect();
  const dbBefore = await otherDbSnapshot(statsClient);
  const cpuBefore = cpuSnapshot();
  const t0 = nowMs();
  for (let seq = 0; seq < total; seq++) {
    const due = t0 + seq * intervalMs;
    const wait = due - nowMs();
    if (wait >= 1) await sleep(Math.floor(wait));
    const t = nowMs();
    sentAt[seq] = t;
    inserts.push(
      producer.query(
        `select 1 from ${SCHEMA}.add_job('latency', json_build_object('seq', $1::int, 't', $2::float8))`,
        [seq, t],
      ),
    );
  }
  const produceSeconds = (nowMs() - t0) / 1000;
  await Promise.all(inserts);
  expected = total;
  if (picked < total) {
    await new Promise((resolve) => {
      allPickedResolve = resolve;
    });
  }
  const foreign = {
    ...interference(cpuBefore, cpuSnapshot()),
    ...otherDbActivity(dbBefore, await otherDbSnapshot(statsClient)),
  };
  await statsClient.end();
  await runner.stop();
  await producer.end();
  await withClient(db, (client) => assertQueueEmpty(client, "latency run"));
  if (delays.size !== total) die(`${delays.size} distinct jobs ran, expected ${total}`);

  const measured = [];
  for (let seq = 0; seq < total; seq++) {
    if (sentAt[seq] - t0 >= warmupSeconds * 1000) measured.push(delays.get(seq));
  }
  measured.sort((a, b) => a - b);
  const mean = measured.reduce((s, x) => s + x, 0) / measured.length;
  const result = {
    system: SYSTEM,
    version: VERSION,
    node: process.version,
    batched: batching.batched,
    ...batchingReport(batching),
    rate,
    seconds: durationSeconds,
    concurrency,
    max_pool_size: concurrency + 1,
    sent: total,
    achieved_rate: round(total / produceSeconds, 1),
    warmup_seconds: warmupSeconds,
    count: measured.length,
    p50_ms: round(percentile(measured, 50)),
    p90_ms: round(percentile(measured, 90)),
    p99_ms: round(percentile(measured, 99)),
    max_ms: round(measured[measured.length - 1]),
    mean_ms: round(mean),
    min_ms: round(measured[0]),
    ...foreign,
  };
  warnInterference(foreign);
  console.log(JSON.stringify(result));
}

// ---------------------------------------------------------------------------
// fill-finished: nothing to do for graphile-worker

async function fillFinished(values) {
  console.log(
    JSON.stringify({
      system: SYSTEM,
      version: VERSION,
      count: values.count != null ? Number(values.count) : null,
      note: "graphile-worker deletes completed jobs",
    }),
  );
}

// ---------------------------------------------------------------------------

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const sub = SUBCOMMANDS[cmd];
  if (!sub) {
    console.error(USAGE);
    process.exit(cmd === "--help" || cmd === "-h" ? 0 : 2);
  }
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: sub.options, strict: true }));
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.error(USAGE);
    process.exit(0);
  }
  for (const r of sub.required) {
    if (values[r] == null) {
      console.error(`${cmd}: --${r} is required\n${USAGE}`);
      process.exit(2);
    }
  }
  await sub.fn(values);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
