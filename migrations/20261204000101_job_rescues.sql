-- A job taken back from a worker that died holding it is not a failed attempt: the attempt is
-- given back and counted here instead, so restarts and crashes of workers do not use up a
-- job's retries. A job rescued this often is taken to be killing its workers and fails.
alter table job add column rescues integer not null default 0;
