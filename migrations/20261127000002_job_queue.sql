-- The durable job queue: every change runs as a job; its progress is an append-only event log.

create type job_state as enum ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- Fencing tokens: every claim gets a new one, so a rescued job's old worker cannot finish it.
create sequence job_lease_token_seq;

-- Fair ordering between tenants: each tenant (lane) numbers its jobs; a lane that was idle
-- starts at the queue's head, so it waits behind at most one claim batch, not another
-- tenant's backlog.
create table job_lane (
    lane     uuid primary key,
    next_seq bigint not null
);

create table job (
    job_id           bigint generated always as identity primary key,
    kind             text not null check (length(kind) between 1 and 100),
    tenant_id        uuid references tenant on delete cascade,
    resource_id      uuid,
    payload          jsonb not null default '{}',
    state            job_state not null default 'queued',
    -- Lower runs first.
    priority         smallint not null default 0,
    fair_seq         bigint not null,
    run_at           timestamptz not null default now(),
    attempt          integer not null default 0,
    max_attempts     integer not null default 5 check (max_attempts >= 1),
    unique_key       text,
    lease_token      bigint,
    locked_by        text,
    lease_expires_at timestamptz,
    cancel_requested boolean not null default false,
    progress         smallint not null default 0 check (progress between 0 and 100),
    progress_message text,
    last_error       text,
    created_at       timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
-- The claim query reads only queued rows, in claim order: finished jobs never enter this index.
create index job_claim_idx on job (priority, fair_seq) where state = 'queued';
create index job_lease_idx on job (lease_expires_at) where state = 'running';
-- At most one live job per unique key (e.g. one reconcile per instance group).
create unique index job_unique_key on job (unique_key) where unique_key is not null and state in ('queued', 'running');
create index job_tenant_idx on job (tenant_id, job_id desc);
create index job_finished_idx on job (finished_at) where state in ('succeeded', 'failed', 'cancelled');

-- Wake the workers once per inserting statement (bulk inserts too).
create function job_notify_workers() returns trigger language plpgsql as $$
begin
    perform pg_notify('stratus_jobs', '');
    return null;
end $$;
create trigger job_inserted after insert on job
    for each statement execute function job_notify_workers();

create table job_event (
    event_id   bigint generated always as identity primary key,
    job_id     bigint not null references job on delete cascade,
    tenant_id  uuid,
    kind       text not null check (kind in ('progress', 'log', 'state')),
    percent    smallint check (percent between 0 and 100),
    message    text not null,
    created_at timestamptz not null default now()
);
create index job_event_job_idx on job_event (job_id, event_id);
create index job_event_tenant_idx on job_event (tenant_id, event_id);

-- Events are history: they are never rewritten (pruning deletes them with their job).
create function job_event_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'job_event is append-only';
end $$;
create trigger job_event_no_update before update on job_event
    for each row execute function job_event_append_only();
