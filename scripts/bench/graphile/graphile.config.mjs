// graphile-worker preset used by the benchmark's worker processes (both the
// CLI children of `bench.mjs drain` and the in-process worker of
// `bench.mjs latency`).
//
// The CLI children receive the knobs through environment variables set by
// bench.mjs: BENCH_BATCHED=1|0, BENCH_LOCAL_QUEUE_SIZE, BENCH_REFETCH_DELAY_MS,
// BENCH_BATCH_DELAY_MS. Connection string, concurrency (-j) and pool size (-m)
// are passed as CLI flags, exactly like graphile-worker's perfTest/run.js.
import { fileURLToPath } from "node:url";

export const DEFAULT_LOCAL_QUEUE_SIZE = 500; // perfTest/graphile.config.js upstream
export const DEFAULT_REFETCH_DELAY_MS = 10; // perfTest/graphile.config.js upstream
export const DEFAULT_BATCH_DELAY_MS = 0; // completeJobBatchDelay / failJobBatchDelay

const num = (v, dflt) => (v == null || v === "" ? dflt : Number(v));

/**
 * The batching-related part of `preset.worker`.
 * Unbatched = graphile-worker's defaults, spelled out (-1 disables each).
 */
export function batchingOptions({
  batched,
  localQueueSize = DEFAULT_LOCAL_QUEUE_SIZE,
  refetchDelayMs = DEFAULT_REFETCH_DELAY_MS,
  batchDelayMs = DEFAULT_BATCH_DELAY_MS,
}) {
  if (!batched) {
    return {
      localQueue: { size: -1 },
      completeJobBatchDelay: -1,
      failJobBatchDelay: -1,
    };
  }
  return {
    localQueue: {
      size: localQueueSize,
      ...(refetchDelayMs > 0 ? { refetchDelay: { durationMs: refetchDelayMs } } : {}),
    },
    completeJobBatchDelay: batchDelayMs,
    failJobBatchDelay: batchDelayMs,
  };
}

/** Options shared by every benchmark worker, batched or not. */
export const commonWorkerOptions = {
  taskDirectory: fileURLToPath(new URL("./tasks", import.meta.url)),
  // No crontab: this file does not exist (and --once ignores cron anyway).
  crontabFile: fileURLToPath(new URL("./crontab.none", import.meta.url)),
  fileExtensions: [".js"],
  gracefulShutdownAbortTimeout: 2500,
};

/** @type {GraphileConfig.Preset} */
const preset = {
  worker: {
    ...commonWorkerOptions,
    ...batchingOptions({
      batched: process.env.BENCH_BATCHED === "1",
      localQueueSize: num(process.env.BENCH_LOCAL_QUEUE_SIZE, DEFAULT_LOCAL_QUEUE_SIZE),
      refetchDelayMs: num(process.env.BENCH_REFETCH_DELAY_MS, DEFAULT_REFETCH_DELAY_MS),
      batchDelayMs: num(process.env.BENCH_BATCH_DELAY_MS, DEFAULT_BATCH_DELAY_MS),
    }),
  },
};

export default preset;
