-- Fewer writes per job (issue 3's drain benchmark: PostgreSQL's work per job is the limit).

-- Platform jobs (no tenant) are never looked up by tenant, so they stay out of the tenant
-- indexes: a non-HOT update writes an entry into every index whose predicate the row meets.
drop index job_tenant_idx;
create index job_tenant_idx on job (tenant_id, job_id desc) where tenant_id is not null;
drop index job_event_tenant_idx;
create index job_event_tenant_idx on job_event (tenant_id, event_id) where tenant_id is not null;

-- Running jobs by id rather than by lease expiry: renewing a lease then changes no indexed
-- column, so a heartbeat can be a HOT update. Rescue reads every running job (at most the
-- workers' total concurrency) and checks expiry on the row.
drop index job_lease_idx;
create index job_running_idx on job (job_id) where state = 'running';
