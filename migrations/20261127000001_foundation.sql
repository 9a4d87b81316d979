-- Users, tenants, memberships and invitations.

create function set_updated_at() returns trigger language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end $$;

create table app_user (
    user_id        uuid primary key default gen_random_uuid(),
    email          text not null constraint app_user_email_key unique
                   check (email = lower(email) and length(email) <= 254),
    display_name   text not null check (length(display_name) between 1 and 80),
    password_hash  text not null,
    platform_admin boolean not null default false,
    disabled_at    timestamptz,
    -- Bumped to end every session of the user at once.
    session_epoch  integer not null default 0,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create trigger app_user_updated_at before update on app_user
    for each row execute function set_updated_at();

create type tenant_status as enum ('active', 'suspended');
-- Ordered lowest to highest: comparisons follow this order.
create type tenant_role as enum ('viewer', 'member', 'admin', 'owner');

create table tenant (
    tenant_id     uuid primary key default gen_random_uuid(),
    slug          text not null constraint tenant_slug_key unique
                  check (slug ~ '^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$'),
    display_name  text not null check (length(display_name) between 1 and 80),
    status        tenant_status not null default 'active',
    max_zones     integer not null default 10  check (max_zones >= 0),
    max_instances integer not null default 50  check (max_instances >= 0),
    max_vcpus     integer not null default 200 check (max_vcpus >= 0),
    max_databases integer not null default 5   check (max_databases >= 0),
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create trigger tenant_updated_at before update on tenant
    for each row execute function set_updated_at();

create table membership (
    tenant_id  uuid not null references tenant on delete cascade,
    user_id    uuid not null references app_user on delete cascade,
    role       tenant_role not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, user_id)
);
create index membership_user_id_idx on membership (user_id);
create trigger membership_updated_at before update on membership
    for each row execute function set_updated_at();

create table invitation (
    invitation_id uuid primary key default gen_random_uuid(),
    tenant_id     uuid not null references tenant on delete cascade,
    email         text not null check (email = lower(email)),
    role          tenant_role not null,
    -- Only the digest of the link's token is kept.
    token_sha256  bytea not null constraint invitation_token_key unique,
    invited_by    uuid references app_user on delete set null,
    created_at    timestamptz not null default now(),
    expires_at    timestamptz not null,
    accepted_at   timestamptz,
    accepted_by   uuid references app_user on delete set null,
    revoked_at    timestamptz
);
-- At most one live invitation per email and tenant.
create unique index invitation_pending_key on invitation (tenant_id, email)
    where accepted_at is null and revoked_at is null;
