-- Approvals requested and not settled since: no decision, timeout, skip or
-- outcome of the step, and the instance neither compensating nor finished.
select first.data ->> 'definition' as definition, count(*) as count
from events as requested
join events as first on first.stream_id = requested.stream_id and first.version = 1
where requested.type = 'ApprovalRequested'
  and not exists (
    select 1 from events as later
    where later.stream_id = requested.stream_id
      and later.version > requested.version
      and (later.data ->> 'step' = requested.data ->> 'step'
           or later.type in ('CompensationStarted', 'WorkflowCompleted', 'WorkflowFailed',
                             'WorkflowCompensated', 'WorkflowCompensationFailed', 'WorkflowCancelled'))
  )
group by 1
