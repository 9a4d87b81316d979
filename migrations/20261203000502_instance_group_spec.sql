-- Instance groups' sizes and who set them (issue 14). The rest of the spec (policy) is the
-- resource's `spec`, the template is `instance_group_template` at `revision`, the zones are
-- `resource_zone` rows. Quota: a group holds `reserved_instances` and `reserved_vcpus`
-- (desired × the template's vCPUs) until it is tombstoned.
create table instance_group (
    resource_id        uuid primary key references resource on delete cascade,
    revision           bigint not null default 1 check (revision >= 1),
    min_size           integer not null check (min_size >= 0),
    max_size           integer not null check (max_size <= 10000),
    desired            integer not null,
    -- Who set `desired` last: a person (their user id), or later an autoscaler.
    desired_source     text not null default 'person' check (desired_source in ('person', 'autoscaler')),
    desired_set_by     uuid references app_user on delete set null,
    desired_set_at     timestamptz not null default now(),
    reserved_instances integer not null default 0 check (reserved_instances >= 0),
    reserved_vcpus     integer not null default 0 check (reserved_vcpus >= 0),
    constraint instance_group_size_check check (min_size <= desired and desired <= max_size)
);
