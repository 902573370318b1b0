-- The embedded mode's queues, in the same file as the log: a task (or a
-- worker's result) is a row from its publish until it is acknowledged, so
-- a node stopped at any moment delivers it again when it starts.
-- A dead-lettered message keeps its row, with when and why.
create table queue_messages (
    id integer primary key autoincrement,
    -- 'task' (a task queue) or 'result' (the results queue)
    kind text not null,
    -- The task queue's name; '' for results.
    queue text not null,
    -- The task id (of the first result, for results).
    message_id text not null,
    body text not null,
    priority integer not null default 0,
    published_at text not null,
    -- How often it was delivered, written when it is dead-lettered.
    deliveries integer not null default 0,
    dead_at text,
    dead_reason text
);
create index queue_messages_by_queue on queue_messages (kind, queue, id);
