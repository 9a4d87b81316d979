-- Managed databases (issue 15): the RDS instance behind a `database` resource, and its master
-- password, kept as an envelope-encrypted secret of its own purpose.

alter table secret drop constraint secret_purpose_check;
alter table secret add constraint secret_purpose_check
    check (purpose in ('user', 'cloud-credentials', 'database-credentials'));

create table managed_database (
    resource_id       uuid primary key references resource on delete cascade,
    -- The DB instance identifier, derived from the resource id (unique in an account and region).
    identifier        text not null constraint managed_database_identifier_key unique
                        check (identifier ~ '^[a-z][a-z0-9-]{0,62}$'),
    master_username   text not null,
    -- The master password; null once the database is deleted (the secret goes with it).
    secret_id         uuid references secret on delete restrict,
    -- Bumped by every rotation; the reconciler sets the password at the provider until the
    -- applied version catches up.
    password_version  integer not null default 1,
    applied_password_version integer not null default 0,
    -- Set by a delete: whether to take a final snapshot, and its name.
    final_snapshot    text
);
create index managed_database_secret_idx on managed_database (secret_id);
