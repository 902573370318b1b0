-- Schedules: a cron in a time zone that starts a definition, and the state
-- of its rounds (times as RFC 3339 UTC text with microseconds).
create table schedules (
    name text primary key,
    definition text not null,
    version integer,
    input text not null,
    cron text not null,
    timezone text not null,
    overlap text not null,
    catchup_window_ms integer not null,
    paused integer not null default 0,
    next_due text,
    buffered_tick text,
    last_instance text,
    last_tick text,
    missed integer not null default 0,
    origin text not null,
    created_at text not null,
    lease_until text
);

create index schedules_due on schedules (next_due) where not paused;
