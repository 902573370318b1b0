-- Instances not finished (their last event is not final), by definition and
-- last event type; `WorkflowCompensationFailed` marks those waiting for an
-- operator. Reads each stream's first and last event through the
-- (stream_id, version) index.
select first.data ->> 'definition' as definition, last.type as last_type, count(*) as count
from (select stream_id, max(version) as version from events group by stream_id) as streams
join events as last on last.stream_id = streams.stream_id and last.version = streams.version
join events as first on first.stream_id = streams.stream_id and first.version = 1
where last.type not in ('WorkflowCompleted', 'WorkflowFailed', 'WorkflowCompensated', 'WorkflowCancelled')
group by 1, 2
