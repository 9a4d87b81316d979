-- API keys for automation: scoped to one tenant and a role, expiring, revocable.
create table api_key (
    key_id        uuid primary key default gen_random_uuid(),
    tenant_id     uuid not null references tenant on delete cascade,
    user_id       uuid not null references app_user on delete cascade,
    name          text not null check (length(name) between 1 and 80),
    -- The first characters of the key, shown in lists so people can tell keys apart.
    prefix        text not null,
    -- Only the digest of the whole key is kept.
    secret_sha256 bytea not null constraint api_key_secret_key unique,
    role          tenant_role not null,
    created_at    timestamptz not null default now(),
    expires_at    timestamptz not null,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
create index api_key_tenant_idx on api_key (tenant_id, created_at desc);
create index api_key_user_idx on api_key (user_id);
