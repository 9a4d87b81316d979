-- Instances running per group and availability zone, one row per UTC hour (the last value the
-- group's reconciler observed in that hour), for the overview's "instances per zone" chart.
-- Kept as long as finished jobs (`STRATUS_JOB_RETENTION_DAYS`), pruned with them.
create table instance_sample (
    resource_id       uuid not null references resource on delete cascade,
    tenant_id         uuid not null references tenant on delete cascade,
    availability_zone text not null,
    hour              timestamptz not null,
    running           integer not null check (running >= 0),
    primary key (resource_id, availability_zone, hour)
);
create index instance_sample_tenant_hour_idx on instance_sample (tenant_id, hour);
