//! The RabbitMQ topology, declared in one place: the tasks exchange with one
//! quorum queue per task queue name, the dead-letter exchange with one
//! dead-letter queue each, and the results exchange and queue. The results
//! queue is a classic durable queue: a quorum queue delivers only after its
//! log is synced, about 0.5 ms on each hop of a workflow (see
//! docs/worker-protocol.md for the trade).
//!
//! Every declaration is idempotent, so it is repeated after each reconnect.
//! Changing an argument of an existing queue makes the broker refuse the
//! declaration (`PRECONDITION_FAILED`): queue arguments are part of the wire
//! protocol and change only with a migration.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// Direct exchange routing a task by its queue name.
pub const TASKS_EXCHANGE: &str = "distorch.tasks";
/// Direct exchange receiving what task and result queues dead-letter.
pub const DEAD_LETTER_EXCHANGE: &str = "distorch.dlx";
/// Direct exchange and queue for the workers' results; the binding key is
/// the queue name, so the default exchange reaches it the same way.
pub const RESULTS: &str = "distorch.results";
/// Where unreadable results are dead-lettered.
pub const RESULTS_DEAD_LETTER_QUEUE: &str = "distorch.results.dlq";

/// The queue of workers' presence messages (hello, heartbeat, goodbye),
/// reached through the default exchange. Classic, and a message older than
/// a minute is dropped: presence is worth nothing late.
pub const WORKERS: &str = "distorch.workers";
/// How long a presence message waits for an engine node, in milliseconds.
const WORKERS_MESSAGE_TTL: i32 = 60_000;

/// `distorch.worker.<id>`: a worker's control queue, exclusive to its
/// connection; the engine sends it signals (a drain).
pub fn control_queue(worker_id: &str) -> String {
    format!("distorch.worker.{worker_id}")
}

/// `distorch.task.<name>`: the queue workers of `name` consume.
pub fn task_queue(name: &str) -> String {
    format!("distorch.task.{name}")
}

/// `distorch.dlq.<name>`: where rejected or expired tasks of `name` land.
pub fn dead_letter_queue(name: &str) -> String {
    format!("distorch.dlq.{name}")
}

/// Declares the exchanges, the results and presence queues, and for each task queue name
/// its quorum queue and dead-letter queue with their bindings.
pub async fn declare_topology<S: AsRef<str>>(
    channel: &Channel,
    queue_names: &[S],
) -> lapin::Result<()> {
    for exchange in [TASKS_EXCHANGE, DEAD_LETTER_EXCHANGE, RESULTS] {
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
    }
    declare_with_dead_letters(
        channel,
        RESULTS,
        RESULTS,
        RESULTS,
        RESULTS_DEAD_LETTER_QUEUE,
        QueueType::Classic,
    )
    .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-message-ttl".into(),
        AMQPValue::LongInt(WORKERS_MESSAGE_TTL),
    );
    declare_queue(channel, WORKERS, QueueType::Classic, arguments).await?;
    for name in queue_names {
        let name = name.as_ref();
        declare_with_dead_letters(
            channel,
            &task_queue(name),
            TASKS_EXCHANGE,
            name,
            &dead_letter_queue(name),
            QueueType::Quorum,
        )
        .await?;
    }
    Ok(())
}

/// A durable `queue` of `kind` bound to `exchange` by `key`, dead-lettering with the
/// same key (set explicitly, so a message published to the queue through
/// the default exchange dead-letters to the same place) into `dead_letters`.
async fn declare_with_dead_letters(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    key: &str,
    dead_letters: &str,
    kind: QueueType,
) -> lapin::Result<()> {
    declare_queue(channel, dead_letters, kind, FieldTable::default()).await?;
    bind(channel, dead_letters, DEAD_LETTER_EXCHANGE, key).await?;

    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(key.into()),
    );
    declare_queue(channel, queue, kind, arguments).await?;
    bind(channel, queue, exchange, key).await
}

#[derive(Clone, Copy, Debug)]
enum QueueType {
    Quorum,
    Classic,
}

async fn declare_queue(
    channel: &Channel,
    queue: &str,
    kind: QueueType,
    mut arguments: FieldTable,
) -> lapin::Result<()> {
    let kind = match kind {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    };
    arguments.insert("x-queue-type".into(), AMQPValue::LongString(kind.into()));
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await?;
    Ok(())
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// A worker's control queue: exclusive to this connection, deleted with it.
pub(crate) async fn declare_control_queue(channel: &Channel, worker_id: &str) -> lapin::Result<()> {
    channel
        .queue_declare(
            control_queue(worker_id).as_str().into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(())
}
