-- Live events: job state changes join the event log, so a subscriber sees queued → running →
-- succeeded/failed/cancelled, and single-use tickets let clients that cannot set headers open
-- the event stream.

-- One 'queued' event per inserted tenant job (one statement per insert, bulk inserts too).
-- Only tenant jobs: subscriptions are per tenant, and platform work (benchmarks, maintenance)
-- should not pay for events nobody can subscribe to.
create function job_event_queued() returns trigger language plpgsql as $$
begin
    insert into job_event (job_id, tenant_id, kind, message)
    select job_id, tenant_id, 'state', 'queued' from inserted where tenant_id is not null;
    if found then
        perform pg_notify('stratus_job_events', '');
    end if;
    return null;
end $$;
create trigger job_queued_event after insert on job referencing new table as inserted
    for each statement execute function job_event_queued();

-- One 'running' event per claim of a tenant job. The job row is written before the event, so the inserting
-- transaction already has an xid when the event id is drawn (the stream's gap detection relies
-- on that).
create function job_event_running() returns trigger language plpgsql as $$
begin
    insert into job_event (job_id, tenant_id, kind, message)
    values (new.job_id, new.tenant_id, 'state', format('running (attempt %s of %s)', new.attempt, new.max_attempts));
    perform pg_notify('stratus_job_events', '');
    return null;
end $$;
create trigger job_running_event after update of state on job for each row
    when (new.state = 'running' and old.state is distinct from new.state and new.tenant_id is not null)
    execute function job_event_running();

-- Resource topics find their jobs.
create index job_resource_idx on job (resource_id) where resource_id is not null;

-- A ticket is a short-lived, single-use credential for one WebSocket handshake; only its hash
-- is stored.
create table event_ticket (
    ticket_hash bytea primary key,
    user_id     uuid not null references app_user on delete cascade,
    expires_at  timestamptz not null
);
create index event_ticket_expiry_idx on event_ticket (expires_at);
