-- The audit log, complete: what changed (details), from where (client_ip), and no TRUNCATE.

alter table audit_event
    -- Before/after values and ids (e.g. old and new role). Never a credential or secret value.
    add column details   jsonb not null default '{}'::jsonb,
    -- The peer address of the request, when the change came through HTTP.
    add column client_ip inet;

-- Filtering by action across tenants (the admin console) without scanning the whole log.
create index audit_event_action_idx on audit_event (action, audit_id desc);

-- Row triggers do not fire on TRUNCATE; a statement trigger does.
create trigger audit_event_no_truncate before truncate on audit_event
    for each statement execute function audit_event_append_only();

-- Actions are now past-tense names from one list (`AuditAction`); rename the early ones so
-- filters find them. The only time the log is rewritten, by the schema owner, in a migration.
alter table audit_event disable trigger audit_event_no_change;
update audit_event set action = case action
        when 'secret.create' then 'secret.created'
        when 'secret.update' then 'secret.updated'
        when 'secret.delete' then 'secret.deleted'
        when 'secret.reveal' then 'secret.revealed'
        when 'cloud_account.create' then 'cloud_account.created'
        when 'cloud_account.delete' then 'cloud_account.deleted'
    end
    where action in ('secret.create', 'secret.update', 'secret.delete', 'secret.reveal',
                     'cloud_account.create', 'cloud_account.delete');
alter table audit_event enable trigger audit_event_no_change;
