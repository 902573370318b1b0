-- Deployed workflow definitions: loaded at start.
create table definitions (
    name text not null,
    version integer not null,
    hash text not null,
    description text,
    source text not null,
    created_at text not null,
    primary key (name, version)
);

-- Idempotency keys of start requests: the instance each started.
create table idempotency_keys (
    key text primary key,
    instance_id text not null,
    fingerprint text not null,
    created_at text not null
);

-- The read models: projections of the event log, rebuilt from it at will.
-- Times are RFC 3339 UTC text with microseconds, so they sort as text.
create table workflow_instances (
    id text primary key,
    definition text not null,
    definition_version integer not null,
    status text not null,
    input text not null,
    output text,
    error text,
    started_by text not null,
    current_steps text not null default '[]',
    failed_steps text not null default '[]',
    created_at text not null,
    updated_at text not null,
    finished_at text
);
create index workflow_instances_status on workflow_instances (status, id);
create index workflow_instances_definition on workflow_instances (definition, id);
create index workflow_instances_created_at on workflow_instances (created_at);

create table workflow_steps (
    instance_id text not null,
    step text not null,
    position integer not null,
    kind text not null,
    status text not null default 'pending',
    attempt integer not null default 0,
    scheduled_at text,
    started_at text,
    finished_at text,
    worker text,
    last_error text,
    output text,
    progress integer,
    compensation text,
    primary key (instance_id, step)
);

create table projection_checkpoints (
    name text primary key,
    position integer not null
);
insert into projection_checkpoints (name, position) values ('read_models', 0);
