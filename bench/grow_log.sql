-- Grows a DisTorch PostgreSQL database to a long history quickly, for the "flat cost as the
-- history grows" check: the finished workflows already there (a real run's) are copied under
-- fresh ids, events and read-model rows alike, doubling until the log holds :target events;
-- the projection's checkpoint is then set to the end, as a caught-up projector leaves it.
-- Run it with no engine node on the database:
--   psql "$DATABASE_URL" -v target=5000000 -f bench/grow_log.sql
-- Each doubling is one transaction, so writing transactions (`tx`) spread as batches do.
\set ON_ERROR_STOP on
set synchronous_commit = off;
select count(*) as seed_events from events \gset
\if :{?target}
\else
\set target 5000000
\endif
select ceil(log(2, greatest(:target::numeric / greatest(:seed_events, 1), 1)))::int as doublings \gset
\echo growing :seed_events events to at least :target in :doublings doublings

create temporary table finished as
select id from workflow_instances
where status in ('completed', 'failed', 'compensated', 'cancelled');

select format($$
begin;
create temporary table copy_ids on commit drop as
    select id as old, gen_random_uuid() as new from finished;
insert into events (stream_id, version, type, schema_version, data, metadata, recorded_at)
    select c.new, e.version, e.type, e.schema_version, e.data, e.metadata, e.recorded_at
    from events e join copy_ids c on c.old = e.stream_id order by e.global_position;
insert into workflow_instances
    select c.new, w.definition, w.definition_version, w.status, w.input, w.output, w.error,
           w.started_by, w.current_steps, w.failed_steps, w.created_at, w.updated_at, w.finished_at
    from workflow_instances w join copy_ids c on c.old = w.id;
insert into workflow_steps
    select c.new, s.step, s.position, s.kind, s.status, s.attempt, s.scheduled_at, s.started_at,
           s.finished_at, s.worker, s.last_error, s.output, s.progress, s.compensation
    from workflow_steps s join copy_ids c on c.old = s.instance_id;
insert into finished select new from copy_ids;
commit;
$$) from generate_series(1, :doublings) \gexec

update projection_checkpoints set position = (select max(global_position) from events)
where name = 'read_models';
vacuum analyze events;
vacuum analyze workflow_instances;
vacuum analyze workflow_steps;
select count(*) as events, pg_size_pretty(pg_total_relation_size('events')) as size from events;
