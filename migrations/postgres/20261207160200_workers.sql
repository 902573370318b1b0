-- The worker registry: one row per worker, from its presence messages
-- (bus workers) or its polls and reports (HTTP workers). The status is
-- derived when read (last_seen, draining, gone, in_flight).
create table workers (
    id text primary key,
    name text not null,
    host text not null,
    version text not null,
    transport text not null,
    queues jsonb not null,
    capacity integer not null,
    in_flight jsonb not null,
    completed bigint not null,
    failed bigint not null,
    started_at timestamptz not null,
    last_seen timestamptz not null,
    draining boolean not null default false,
    gone boolean not null default false
);
create index workers_in_flight on workers using gin (in_flight);
