-- The event log: one stream per workflow instance, append-only. SQLite has
-- one writer at a time, so positions are committed in order.
create table events (
    global_position integer primary key autoincrement,
    stream_id text not null,
    version integer not null,
    type text not null,
    schema_version integer not null,
    data text not null,
    metadata text not null,
    recorded_at text not null,
    constraint events_stream_version unique (stream_id, version)
);

create table outbox (
    id integer primary key autoincrement,
    queue text not null,
    payload text not null,
    priority integer not null default 0,
    created_at text not null,
    locked_until text
);

create table timers (
    id integer primary key autoincrement,
    instance_id text not null,
    timer text not null,
    due_at text not null,
    locked_until text
);
create index timers_due_at on timers (due_at);
