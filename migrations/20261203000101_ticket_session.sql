-- A ticket opens the event stream for one browser session, so the stream can end when that
-- session does (sign-out, revocation, password change, disabled user). Older tickets have no
-- session and are refused; they expire within 30 seconds anyway.
alter table event_ticket
    add column user_session_id uuid references user_session on delete cascade,
    add column session_epoch int;
