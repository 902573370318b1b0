-- The gauges a scrape reports (instances in progress, approvals waiting,
-- attempts waiting for a worker) are counted on the read models' live rows
-- through these partial indexes, never on the event log: a scrape costs in
-- proportion to the work in progress, not to the history.
alter table workflow_steps add column compensation_scheduled_at timestamptz;
create index workflow_instances_live on workflow_instances (status, definition)
    where status not in ('completed', 'failed', 'compensated', 'cancelled');
create index workflow_steps_approvals_waiting on workflow_steps (instance_id)
    where kind = 'approval' and status = 'waiting';
create index workflow_steps_scheduled on workflow_steps (instance_id)
    where status = 'scheduled';
create index workflow_steps_compensations_scheduled on workflow_steps (instance_id)
    where compensation = 'scheduled';
