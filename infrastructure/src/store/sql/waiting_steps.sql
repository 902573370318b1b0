-- Attempts scheduled that nothing happened to since: dispatched ones wait in
-- the outbox or the broker for a worker to start them. The caller keeps the
-- steps that go to a queue.
select first.data ->> 'definition' as definition,
       scheduled.data ->> 'step' as step,
       scheduled.type = 'CompensationScheduled' as compensation,
       count(*) as count,
       min(scheduled.recorded_at) as oldest
from events as scheduled
join events as first on first.stream_id = scheduled.stream_id and first.version = 1
where scheduled.type in ('StepScheduled', 'CompensationScheduled')
  and not exists (
    select 1 from events as later
    where later.stream_id = scheduled.stream_id
      and later.version > scheduled.version
      and (later.data ->> 'step' = scheduled.data ->> 'step'
           or later.type in ('WorkflowCompleted', 'WorkflowFailed', 'WorkflowCompensated',
                             'WorkflowCompensationFailed', 'WorkflowCancelled'))
  )
group by 1, 2, 3
