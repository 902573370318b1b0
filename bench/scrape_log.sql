-- A database for measuring a scrape (docs/benchmarks.md, "Metrics scrape cost"):
-- psql -d DB -v done=90000 -v running=2000 -v approvals=2000 -f bench/scrape_log.sql
-- on a database that `distorch migrate` brought to the current schema.
-- A log of :done completed instances (11 events each), :running instances
-- with a step waiting for a worker and :approvals instances waiting at an
-- approval; the read models to match; the projection caught up.
\set ON_ERROR_STOP on
insert into events (stream_id, version, type, schema_version, data, metadata)
select id, v, t, 1, d, '{"event_id":"00000000-0000-0000-0000-000000000000","occurred_at":"2026-12-07T00:00:00Z","correlation_id":"00000000-0000-0000-0000-000000000000","actor":"bench"}'::jsonb
from (select md5('done' || i)::uuid as id from generate_series(1, :done) i) s,
lateral (values
  (1, 'WorkflowStarted', '{"definition":"order","version":1,"hash":"x","input":{},"started_by":"bench"}'::jsonb),
  (2, 'StepScheduled', '{"step":"reserve","attempt":1,"input":{},"idempotency_key":"k"}'),
  (3, 'StepStarted', '{"step":"reserve","attempt":1,"worker":"w"}'),
  (4, 'StepCompleted', '{"step":"reserve","attempt":1,"output":{}}'),
  (5, 'StepScheduled', '{"step":"charge","attempt":1,"input":{},"idempotency_key":"k"}'),
  (6, 'StepStarted', '{"step":"charge","attempt":1,"worker":"w"}'),
  (7, 'StepCompleted', '{"step":"charge","attempt":1,"output":{}}'),
  (8, 'StepScheduled', '{"step":"ship","attempt":1,"input":{},"idempotency_key":"k"}'),
  (9, 'StepStarted', '{"step":"ship","attempt":1,"worker":"w"}'),
  (10, 'StepCompleted', '{"step":"ship","attempt":1,"output":{}}'),
  (11, 'WorkflowCompleted', '{"output":{}}')) as e(v, t, d);
insert into events (stream_id, version, type, schema_version, data, metadata)
select id, v, t, 1, d, '{"event_id":"00000000-0000-0000-0000-000000000000","occurred_at":"2026-12-07T00:00:00Z","correlation_id":"00000000-0000-0000-0000-000000000000","actor":"bench"}'::jsonb
from (select md5('run' || i)::uuid as id from generate_series(1, :running) i) s,
lateral (values
  (1, 'WorkflowStarted', '{"definition":"order","version":1,"hash":"x","input":{},"started_by":"bench"}'::jsonb),
  (2, 'StepScheduled', '{"step":"reserve","attempt":1,"input":{},"idempotency_key":"k"}')) as e(v, t, d);
insert into events (stream_id, version, type, schema_version, data, metadata)
select id, v, t, 1, d, '{"event_id":"00000000-0000-0000-0000-000000000000","occurred_at":"2026-12-07T00:00:00Z","correlation_id":"00000000-0000-0000-0000-000000000000","actor":"bench"}'::jsonb
from (select md5('wait' || i)::uuid as id from generate_series(1, :approvals) i) s,
lateral (values
  (1, 'WorkflowStarted', '{"definition":"loan","version":1,"hash":"x","input":{},"started_by":"bench"}'::jsonb),
  (2, 'ApprovalRequested', '{"step":"decide","attempt":1,"approvers":["role:underwriter"]}')) as e(v, t, d);
insert into workflow_instances (id, definition, definition_version, status, input, started_by, created_at, updated_at, finished_at)
select md5('done' || i)::uuid, 'order', 1, 'completed', '{}'::jsonb, 'bench', now(), now(), now() from generate_series(1, :done) i
union all
select md5('run' || i)::uuid, 'order', 1, 'running', '{}'::jsonb, 'bench', now(), now(), null from generate_series(1, :running) i
union all
select md5('wait' || i)::uuid, 'loan', 1, 'running', '{}'::jsonb, 'bench', now(), now(), null from generate_series(1, :approvals) i;
insert into workflow_steps (instance_id, step, position, kind, status, attempt, scheduled_at)
select md5('done' || i)::uuid, s, p, 'task', 'completed', 1, now() from generate_series(1, :done) i,
  (values ('reserve', 0), ('charge', 1), ('ship', 2)) as st(s, p)
union all
select md5('run' || i)::uuid, s, p, 'task', case when p = 0 then 'scheduled' else 'pending' end, p, now()
  from generate_series(1, :running) i, (values ('reserve', 0), ('charge', 1), ('ship', 2)) as st(s, p)
union all
select md5('wait' || i)::uuid, 'decide', 0, 'approval', 'waiting', 1, now() from generate_series(1, :approvals) i;
update projection_checkpoints set position = (select max(global_position) from events);
analyze;
