-- Instances not finished, by definition and status (`compensation_failed`
-- marks those waiting for an operator): the live rows of the read model,
-- through the partial index `workflow_instances_live`.
select definition, status, count(*) as count
from workflow_instances
where status not in ('completed', 'failed', 'compensated', 'cancelled')
group by definition, status
