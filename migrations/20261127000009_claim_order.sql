-- The jobs a claim takes: the first `batch` due, unlocked queued jobs in claim order, locked.
--
-- The only plan that reads no more than the batch is a walk of job_claim_idx in its order.
-- The planner picks it only while the table's statistics are fresh: right after a bulk
-- enqueue (or with autovacuum behind) it expects a few dozen queued rows, and instead
-- bitmap-scans every queued job and sorts them all, on disk past work_mem, in every claim
-- (43 ms per claim with 100,000 queued, against 5 ms). A sort is never needed here, so it is
-- switched off for this one query; the setting applies only while the function runs.
create function job_claimable(batch bigint) returns setof bigint
language sql volatile
set enable_sort = off
as $$
    select job_id from job
    where state = 'queued' and run_at <= now()
    order by priority, fair_seq
    limit batch
    for update skip locked
$$;
