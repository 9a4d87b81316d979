-- Encrypted secrets, cloud accounts, and the append-only audit log.

create table secret (
    secret_id        uuid primary key,
    tenant_id        uuid not null references tenant on delete cascade,
    name             text not null,
    purpose          text not null check (purpose in ('user', 'cloud-credentials')),
    -- Envelope encryption (see app/src/backend/secrets/envelope.rs): the value under a data
    -- key, the data key wrapped by the key-encryption key `kek_id` from configuration.
    format           smallint not null,
    kek_id           text not null,
    dek_nonce        bytea not null,
    wrapped_dek      bytea not null,
    nonce            bytea not null,
    ciphertext       bytea not null,
    created_by       uuid references app_user on delete set null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    last_revealed_at timestamptz,
    constraint secret_tenant_name_key unique (tenant_id, name)
);
create index secret_kek_idx on secret (kek_id);
create trigger secret_updated_at before update on secret
    for each row execute function set_updated_at();

create table cloud_account (
    cloud_account_id uuid primary key default gen_random_uuid(),
    tenant_id        uuid not null references tenant on delete cascade,
    name             text not null check (length(name) between 1 and 80),
    provider         text not null check (provider in ('aws')),
    region           text not null,
    endpoint_url     text,
    access_key_id    text not null,
    secret_id        uuid not null references secret on delete restrict,
    -- An emulator (the sandbox cloud), shown as such everywhere.
    emulated         boolean not null default false,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint cloud_account_tenant_name_key unique (tenant_id, name)
);
create trigger cloud_account_updated_at before update on cloud_account
    for each row execute function set_updated_at();

create table audit_event (
    audit_id      bigint generated always as identity primary key,
    at            timestamptz not null default now(),
    actor_user_id uuid,
    actor_email   text,
    tenant_id     uuid,
    action        text not null,
    target        text not null
);
create index audit_event_tenant_idx on audit_event (tenant_id, audit_id desc);

create function audit_event_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_event is append-only';
end $$;
create trigger audit_event_no_change before update or delete on audit_event
    for each row execute function audit_event_append_only();
