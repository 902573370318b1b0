-- The worker registry (see the PostgreSQL migration).
create table workers (
    id text primary key,
    name text not null,
    host text not null,
    version text not null,
    transport text not null,
    queues text not null,
    capacity integer not null,
    in_flight text not null,
    completed integer not null,
    failed integer not null,
    started_at text not null,
    last_seen text not null,
    draining boolean not null default false,
    gone boolean not null default false
);
