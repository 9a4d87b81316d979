-- Account security: TOTP second factor, recovery codes, the sessions a person can see and end,
-- and rate-limit counters.

create table user_totp (
    user_id        uuid primary key references app_user on delete cascade,
    -- The seed, envelope-encrypted like a secret (secrets/envelope.rs), bound to the user and
    -- the purpose `totp-seed`.
    format         smallint not null,
    kek_id         text not null,
    dek_nonce      bytea not null,
    wrapped_dek    bytea not null,
    nonce          bytea not null,
    ciphertext     bytea not null,
    -- Null while enrolment waits for its first code; a new enrolment replaces a pending one.
    enabled_at     timestamptz,
    -- The last accepted 30-second time step: a code for it or an earlier one is a replay.
    last_used_step bigint not null default 0,
    created_at     timestamptz not null default now()
);
create index user_totp_kek_idx on user_totp (kek_id);

create table recovery_code (
    user_id     uuid not null references app_user on delete cascade,
    -- SHA-256 over the user id and the code: the random user id salts the 50-bit code.
    code_sha256 bytea not null,
    used_at     timestamptz,
    created_at  timestamptz not null default now(),
    primary key (user_id, code_sha256)
);

-- One row per signed-in browser session; its id is kept inside the tower session, and a
-- session whose row is gone is signed out on its next request.
create table user_session (
    user_session_id uuid primary key,
    user_id         uuid not null references app_user on delete cascade,
    -- The tower-sessions record, learnt on the first request after sign-in, so revoking
    -- deletes it too.
    store_id        text,
    user_agent      text not null default '' check (length(user_agent) <= 512),
    client_ip       inet,
    signed_in_at    timestamptz not null default now(),
    last_seen_at    timestamptz not null default now()
);
create index user_session_user_idx on user_session (user_id, signed_in_at desc);

-- Fixed-window counters, one row per limit and key. Unlogged: losing counters in a crash is
-- harmless, and it spares the WAL.
create unlogged table rate_limit (
    bucket       text not null,
    key          text not null,
    window_start timestamptz not null,
    hits         integer not null,
    primary key (bucket, key)
);
create index rate_limit_window_idx on rate_limit (window_start);
