-- Schedules: a cron in a time zone that starts a definition, and the state
-- of its rounds. `lease_until` is held by the node running a round.
create table schedules (
    name text primary key,
    definition text not null,
    version integer,
    input jsonb not null,
    cron text not null,
    timezone text not null,
    overlap text not null,
    catchup_window_ms bigint not null,
    paused boolean not null default false,
    next_due timestamptz,
    buffered_tick timestamptz,
    last_instance uuid,
    last_tick timestamptz,
    missed bigint not null default 0,
    origin text not null,
    created_at timestamptz not null,
    lease_until timestamptz
);

create index schedules_due on schedules (next_due) where not paused;
