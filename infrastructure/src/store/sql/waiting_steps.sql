-- Attempts dispatched that no worker has started yet (they wait in the
-- outbox or the broker), forward and compensation, with the oldest
-- schedule time. The caller keeps the steps that go to a queue.
select instances.definition, steps.step, false as compensation,
       count(*) as count, min(steps.scheduled_at) as oldest
from workflow_steps as steps
join workflow_instances as instances on instances.id = steps.instance_id
where steps.status = 'scheduled'
  and instances.status not in ('completed', 'failed', 'compensated', 'cancelled')
group by instances.definition, steps.step
union all
select instances.definition, steps.step, true as compensation, count(*) as count,
       coalesce(min(steps.compensation_scheduled_at), min(instances.updated_at)) as oldest
from workflow_steps as steps
join workflow_instances as instances on instances.id = steps.instance_id
where steps.compensation = 'scheduled' and instances.status = 'compensating'
group by instances.definition, steps.step
