-- Approvals waiting for a decision in instances that can still take one.
select instances.definition, count(*) as count
from workflow_steps as steps
join workflow_instances as instances on instances.id = steps.instance_id
where steps.kind = 'approval' and steps.status = 'waiting'
  and instances.status in ('running', 'paused')
group by instances.definition
