-- Deployed workflow definitions: every node loads them at start.
create table definitions (
    name text not null,
    version integer not null,
    hash text not null,
    description text,
    source text not null,
    created_at timestamptz not null default now(),
    primary key (name, version)
);

-- Idempotency keys of start requests: the instance each started.
create table idempotency_keys (
    key text primary key,
    instance_id uuid not null,
    fingerprint text not null,
    created_at timestamptz not null default now()
);

-- The read models: projections of the event log, rebuilt from it at will.
create table workflow_instances (
    id uuid primary key,
    definition text not null,
    definition_version integer not null,
    status text not null,
    input jsonb not null,
    output jsonb,
    error text,
    started_by text not null,
    -- Step ids scheduled, running or waiting; and failed.
    current_steps jsonb not null default '[]',
    failed_steps jsonb not null default '[]',
    created_at timestamptz not null,
    updated_at timestamptz not null,
    finished_at timestamptz
);
create index workflow_instances_status on workflow_instances (status, id);
create index workflow_instances_definition on workflow_instances (definition, id);
create index workflow_instances_created_at on workflow_instances (created_at);

create table workflow_steps (
    instance_id uuid not null,
    step text not null,
    position integer not null,
    kind text not null,
    status text not null default 'pending',
    attempt integer not null default 0,
    scheduled_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    worker text,
    last_error text,
    output jsonb,
    -- A worker's reported progress (0-100): live only, not from the log.
    progress smallint,
    compensation text,
    primary key (instance_id, step)
);

-- Where each projection stands in the global log; written with its rows.
create table projection_checkpoints (
    name text primary key,
    position bigint not null
);
insert into projection_checkpoints (name, position) values ('read_models', 0);

-- Wakes projectors on every node after any append.
create function notify_events_appended() returns trigger language plpgsql as $$
begin
    -- The last position appended: feeds know how far the log reaches.
    perform pg_notify('distorch_events', (select max(global_position)::text from appended));
    return null;
end;
$$;
create trigger events_appended after insert on events
    referencing new table as appended
    for each statement execute function notify_events_appended();
