// The benchmark task: does nothing, so the measurement is pure queue overhead
// (fetch + lock + complete). Same role as `log_if_999` in graphile-worker's
// own perfTest.
export default function noop() {}
