-- Tamper evidence for the audit log: every event stores the SHA-256 of its content chained to
-- the previous event's hash, so rewriting, deleting or inserting a row anywhere but at the end
-- breaks the chain, and `stratus audit verify` names the first broken link.
--
-- The chain follows `chain_seq`, assigned under the row lock of the single `audit_chain_head`
-- row, not `audit_id`: identities are handed out before a transaction commits, so two
-- concurrent inserts could commit in the other order. The head's row lock is held until the
-- inserting transaction ends, which serializes the chain (and rolls the head back with it).

create table audit_chain_head (
    only_row boolean primary key default true check (only_row),
    seq      bigint not null,
    hash     bytea  not null
);

alter table audit_event
    add column chain_seq bigint,
    add column prev_hash bytea,
    add column hash      bytea;

-- What an event's hash covers, as one canonical text (JSON array; jsonb prints its keys in a
-- fixed order). `stratus audit verify` computes the same text with its own copy of this
-- expression, so redefining this function does not fool it.
create function audit_event_canonical(e audit_event, seq bigint) returns text
language sql immutable as $$
    select jsonb_build_array(
        e.audit_id, seq, floor(extract(epoch from e.at) * 1000000)::bigint,
        e.actor_user_id, e.actor_email, e.tenant_id, e.action, e.target, e.details,
        host(e.client_ip)
    )::text
$$;

-- Link the existing events, oldest first, from an all-zero genesis hash.
alter table audit_event disable trigger audit_event_no_change;
do $$
declare
    event audit_event;
    link  bytea := decode(repeat('00', 32), 'hex');
    n     bigint := 0;
begin
    for event in select * from audit_event order by audit_id loop
        n := n + 1;
        update audit_event
           set chain_seq = n,
               prev_hash = link,
               hash = sha256(link || convert_to(audit_event_canonical(event, n), 'UTF8'))
         where audit_id = event.audit_id
        returning hash into link;
    end loop;
    insert into audit_chain_head (seq, hash) values (n, link);
end $$;
alter table audit_event enable trigger audit_event_no_change;

alter table audit_event
    alter column chain_seq set not null,
    alter column prev_hash set not null,
    alter column hash set not null;
create unique index audit_event_chain_idx on audit_event (chain_seq);

-- Runs as the owner (security definer): the runtime role needs no privilege on the head, and
-- whatever an insert supplies for the chain columns is overwritten.
create function audit_event_link() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    head audit_chain_head;
begin
    select * into strict head from audit_chain_head for update;
    new.chain_seq := head.seq + 1;
    new.prev_hash := head.hash;
    new.hash := sha256(head.hash || convert_to(audit_event_canonical(new, new.chain_seq), 'UTF8'));
    update audit_chain_head set seq = new.chain_seq, hash = new.hash;
    return new;
end $$;

create trigger audit_event_link before insert on audit_event
    for each row execute function audit_event_link();
