-- The event log: one stream per workflow instance, append-only.
create table events (
    global_position bigint generated always as identity primary key,
    stream_id uuid not null,
    version integer not null,
    type text not null,
    schema_version integer not null,
    data jsonb not null,
    metadata jsonb not null,
    recorded_at timestamptz not null default now(),
    -- The writing transaction, so readers of the global log can stay below
    -- every transaction still running and never skip a late commit.
    tx xid8 not null default pg_current_xact_id(),
    constraint events_stream_version unique (stream_id, version)
);

-- Messages to publish, written with the events that dispatch them.
create table outbox (
    id bigint generated always as identity primary key,
    queue text not null,
    payload jsonb not null,
    priority smallint not null default 0,
    created_at timestamptz not null default now(),
    -- A relay that claimed the row holds it until then; past it, another may.
    locked_until timestamptz
);

-- Due times at which an instance must be woken.
create table timers (
    id bigint generated always as identity primary key,
    instance_id uuid not null,
    timer jsonb not null,
    due_at timestamptz not null,
    -- A poller that claimed the timer holds it until then; past it, another may.
    locked_until timestamptz
);
create index timers_due_at on timers (due_at);
