-- The resource engine (PROVISIONING.md §1–2): one row per tenant resource with its spec,
-- generation, status, observed generation and conditions; kind-specific rows beside it; every
-- cloud object Stratus creates as a write-ahead intent; idempotency keys for REST creates.

-- This database's installation id, generated once: it goes into every cloud tag, so two
-- installations sharing a cloud account never touch each other's objects.
create table installation (
    singleton       boolean primary key default true check (singleton),
    installation_id uuid not null default gen_random_uuid(),
    created_at      timestamptz not null default now()
);
insert into installation default values;

create type resource_kind as enum ('zone', 'instance_group', 'database');
create type resource_status as enum ('pending', 'provisioning', 'ready', 'updating', 'deleting', 'deleted', 'failed');

create table resource (
    resource_id           uuid primary key default gen_random_uuid(),
    tenant_id             uuid not null references tenant on delete cascade,
    kind                  resource_kind not null,
    name                  text not null check (name ~ '^[a-z][a-z0-9-]{0,61}[a-z0-9]$'),
    cloud_account_id      uuid not null references cloud_account on delete restrict,
    spec                  jsonb not null,
    generation            bigint not null default 1 check (generation >= 1),
    status                resource_status not null default 'pending',
    observed_generation   bigint not null default 0,
    conditions            jsonb not null default '[]',
    -- What the provider reported (ids, addresses), shown to people and REST clients.
    outputs               jsonb not null default '{}',
    last_error            text,
    deletion_requested_at timestamptz,
    reconciled_at         timestamptz,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now()
);
create trigger resource_updated_at before update on resource
    for each row execute function set_updated_at();
-- Names are unique per tenant and kind among resources that still exist.
create unique index resource_tenant_kind_name_key on resource (tenant_id, kind, name) where status <> 'deleted';
create index resource_tenant_kind_idx on resource (tenant_id, kind, name);
-- The resync scheduler's scan: resources that still need a reconciler.
create index resource_live_idx on resource (reconciled_at) where status <> 'deleted';

-- A tenant's network in one cloud account and region (a VPC), shared by its zones there.
create table zone_network (
    network_id       uuid primary key default gen_random_uuid(),
    tenant_id        uuid not null references tenant on delete cascade,
    cloud_account_id uuid not null references cloud_account on delete restrict,
    region           text not null,
    cidr             cidr not null,
    created_at       timestamptz not null default now(),
    constraint zone_network_account_region_key unique (tenant_id, cloud_account_id, region)
);
-- A tenant's networks never overlap, so they can be peered later.
create unique index zone_network_tenant_cidr_key on zone_network (tenant_id, cidr);

create table zone (
    resource_id       uuid primary key references resource on delete cascade,
    network_id        uuid not null references zone_network on delete restrict,
    availability_zone text not null,
    subnet_cidr       cidr not null,
    constraint zone_network_subnet_key unique (network_id, subnet_cidr)
);

-- Which zones a resource runs in (instance groups, databases): a zone in use cannot be deleted.
create table resource_zone (
    resource_id uuid not null references resource on delete cascade,
    zone_id     uuid not null references zone on delete restrict,
    primary key (resource_id, zone_id)
);
create index resource_zone_zone_idx on resource_zone (zone_id);

-- Every cloud object Stratus creates, written before the create call (write-ahead intent) with
-- the token that also goes into the object's tags; the provider id is filled in once known. A
-- row without a provider id after a crash is resolved by looking the token up by tag.
create type provider_object_kind as enum ('vpc', 'subnet', 'security_group', 'instance', 'db_instance', 'db_subnet_group');
create table provider_object (
    object_id        uuid primary key default gen_random_uuid(),
    tenant_id        uuid not null references tenant on delete cascade,
    cloud_account_id uuid not null references cloud_account on delete restrict,
    resource_id      uuid references resource on delete cascade,
    network_id       uuid references zone_network on delete cascade,
    kind             provider_object_kind not null,
    token            text not null constraint provider_object_token_key unique,
    provider_id      text,
    created_at       timestamptz not null default now()
);
create index provider_object_resource_idx on provider_object (resource_id);
create index provider_object_account_idx on provider_object (cloud_account_id, provider_id);

-- What a cloud account's zone survey found: the zones Stratus offers for new zones.
create table cloud_account_zone (
    cloud_account_id  uuid not null references cloud_account on delete cascade,
    availability_zone text not null,
    instance_types    integer not null,
    surveyed_at       timestamptz not null default now(),
    primary key (cloud_account_id, availability_zone)
);

-- REST `Idempotency-Key`: the first answer to a key is kept 24 hours and replayed for the same
-- request; another request under the same key is refused.
create table idempotency_key (
    tenant_id     uuid not null references tenant on delete cascade,
    key           text not null check (length(key) between 1 and 255),
    request_hash  bytea not null,
    status        smallint,
    response      jsonb,
    created_at    timestamptz not null default now(),
    primary key (tenant_id, key)
);
create index idempotency_key_created_idx on idempotency_key (created_at);
