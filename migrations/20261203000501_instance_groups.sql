-- Instance groups (issue 14): template revisions, one row per instance (the write-ahead intent
-- of its launch), and the zones' recent capacity refusals the planner takes into account.

-- A group's template, kept as numbered revisions; instances record the revision they run.
create table instance_group_template (
    resource_id uuid not null references resource on delete cascade,
    revision    bigint not null check (revision >= 1),
    template    jsonb not null,
    created_at  timestamptz not null default now(),
    primary key (resource_id, revision)
);

-- One row per instance, written (state 'launching', no provider id) before the launch call
-- that makes it. A launch of n instances is one call carrying one token; an instance is the
-- pair (launch_token, launch_index), matched to EC2's AmiLaunchIndex when adopted by tag.
create table instance (
    instance_row_id   uuid primary key default gen_random_uuid(),
    resource_id       uuid not null references resource on delete cascade,
    tenant_id         uuid not null references tenant on delete cascade,
    availability_zone text not null,
    launch_token      text not null check (length(launch_token) between 1 and 64),
    launch_index      integer not null check (launch_index >= 0),
    revision          bigint not null,
    provider_id       text,
    state             text not null default 'launching' check (state in
                        ('launching', 'pending', 'running', 'stopping', 'stopped',
                         'shutting_down', 'terminated', 'lost')),
    health            text not null default 'unknown' check (health in ('healthy', 'unhealthy', 'unknown')),
    protected         boolean not null default false,
    launched_at       timestamptz not null default now(),
    terminated_at     timestamptz,
    updated_at        timestamptz not null default now(),
    constraint instance_launch_key unique (launch_token, launch_index)
);
create trigger instance_updated_at before update on instance
    for each row execute function set_updated_at();
create unique index instance_provider_id_key on instance (provider_id) where provider_id is not null;
-- The reconciler's and the instances page's read: a group's live instances.
create index instance_live_idx on instance (resource_id) where state <> 'terminated';

-- A zone that refused capacity for a group (InsufficientInstanceCapacity), in the provider's
-- words; the planner avoids it for a while and the job log shows it per zone.
create table instance_group_capacity_failure (
    resource_id       uuid not null references resource on delete cascade,
    availability_zone text not null,
    message           text not null,
    failed_at         timestamptz not null default now(),
    primary key (resource_id, availability_zone)
);
