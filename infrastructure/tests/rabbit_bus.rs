//! `RabbitBus` against the real RabbitMQ (`AMQP_URL`, by default the local
//! broker). Each test runs in a vhost of its own, made and removed with
//! `rabbitmqctl`, so the tests run in parallel and leave nothing behind. An
//! unreachable broker fails the tests; it never skips them.

use std::process::Command;
use std::time::Duration;

use application::Error;
use application::messages::{ResultBatch, TaskMessage, TaskOutcome, TaskResult};
use application::ports::{Bus, Delivery, Subscription, TaskHandout};
use domain::instance::effects::TaskKind;
use domain::{InstanceId, StepId};
use infrastructure::bus::{RabbitBus, RabbitConfig, TASKS_EXCHANGE, dead_letter_queue};
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::json;
use uuid::Uuid;

const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The longest any test waits for something that should happen.
const PATIENCE: Duration = Duration::from_secs(20);

/// A vhost of its own for one test; deleted on drop.
struct TestBroker {
    vhost: String,
    url: String,
}

impl TestBroker {
    fn new() -> Self {
        let base = std::env::var("AMQP_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let vhost = format!("distorch-test-{}", Uuid::now_v7().simple());
        let (prefix, user) = split_url(&base);
        rabbitmqctl(&["add_vhost", &vhost]);
        let broker = Self {
            url: format!("{prefix}/{vhost}"),
            vhost,
        };
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &broker.vhost,
            &user,
            ".*",
            ".*",
            ".*",
        ]);
        broker
    }

    fn config(&self) -> RabbitConfig {
        RabbitConfig {
            url: self.url.clone(),
            connection_name: format!("distorch-test-{}", self.vhost),
        }
    }

    async fn bus(&self) -> RabbitBus {
        RabbitBus::connect(self.config())
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "RabbitMQ is unreachable at {} ({error}); start it or set AMQP_URL",
                    self.url
                )
            })
    }

    /// A plain lapin channel in this vhost, to look behind the bus's back.
    async fn raw_channel(&self) -> (Connection, lapin::Channel) {
        let connection = Connection::connect(&self.url, ConnectionProperties::default())
            .await
            .expect("raw connection to RabbitMQ");
        let channel = connection.create_channel().await.expect("raw channel");
        (connection, channel)
    }

    /// Has the broker close every connection to this vhost, as on a
    /// maintenance; returns how many there were.
    fn close_connections(&self) -> usize {
        let listing = rabbitmqctl(&[
            "--silent",
            "--formatter",
            "json",
            "list_connections",
            "vhost",
        ]);
        let connections: Vec<serde_json::Value> =
            serde_json::from_str(&listing).expect("rabbitmqctl json listing");
        let mine = connections
            .iter()
            .filter(|connection| connection["vhost"] == self.vhost.as_str())
            .count();
        rabbitmqctl(&[
            "close_all_connections",
            "-p",
            &self.vhost,
            "test: forced close",
        ]);
        mine
    }

    fn delete_vhost(&self) {
        rabbitmqctl(&["delete_vhost", &self.vhost]);
    }

    fn restore_vhost(&self) {
        let (_, user) = split_url(&self.url);
        rabbitmqctl(&["add_vhost", &self.vhost]);
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &self.vhost,
            &user,
            ".*",
            ".*",
            ".*",
        ]);
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.vhost])
            .output();
    }
}

/// `amqp://user:pass@host:port/vhost` -> (`amqp://user:pass@host:port`, user).
fn split_url(url: &str) -> (String, String) {
    let url = url.split('?').next().unwrap_or(url);
    let (scheme, rest) = url.split_once("://").expect("AMQP_URL has a scheme");
    let authority = rest.split('/').next().unwrap_or(rest);
    let user = authority
        .split_once('@')
        .map(|(credentials, _)| credentials.split(':').next().unwrap_or("guest"))
        .unwrap_or("guest");
    (format!("{scheme}://{authority}"), user.to_owned())
}

fn rabbitmqctl(args: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("rabbitmqctl is needed to make a vhost per test and could not run: {error}")
        });
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed (is RabbitMQ running?): {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn task(queue: &str, step: &str, priority: u8) -> TaskMessage {
    let instance_id = InstanceId(Uuid::now_v7());
    TaskMessage {
        task_id: format!("{instance_id}:{step}:forward:1"),
        instance_id,
        workflow: "order-fulfilment".into(),
        step: StepId::from(step),
        attempt: 1,
        kind: TaskKind::Forward,
        queue: queue.into(),
        input: json!({"amount": 42}),
        idempotency_key: format!("{instance_id}:{step}"),
        deadline: None,
        priority,
        heartbeat_timeout_ms: None,
        traceparent: None,
        secrets: Vec::new(),
    }
}

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("waited {PATIENCE:?} for {what}"))
}

async fn next<T, S: Subscription<T>>(subscription: &mut S) -> S::Delivery {
    within("a delivery", subscription.next())
        .await
        .expect("the subscription ended")
        .expect("the subscription failed")
}

/// Polls the queue with basic.get until a message comes (dead-lettering is
/// asynchronous).
async fn get_eventually(channel: &lapin::Channel, queue: &str) -> lapin::message::BasicGetMessage {
    within(&format!("a message in {queue}"), async {
        loop {
            let got = channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get");
            if let Some(message) = got {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_each_task_to_the_queue_it_names() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut payments = bus.consume_tasks("payments", 10).await.unwrap();
    let mut shipping = bus.consume_tasks("shipping", 10).await.unwrap();
    let sent = [
        task("payments", "charge", 0),
        task("shipping", "ship", 0),
        task("payments", "refund", 0),
    ];

    bus.publish_tasks(&sent).await.unwrap();

    for expected in [&sent[0], &sent[2]] {
        let delivery = next(&mut payments).await;
        assert_eq!(delivery.message(), expected);
        delivery.ack().await.unwrap();
    }
    let delivery = next(&mut shipping).await;
    assert_eq!(delivery.message(), &sent[1]);
    assert!(!delivery.redelivered());
    delivery.ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_carries_its_trace_context_in_the_traceparent_header() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let traced = TaskMessage {
        traceparent: Some(traceparent.into()),
        ..task("payments", "charge", 0)
    };
    let untraced = task("payments", "refund", 0);

    bus.publish_tasks(&[traced.clone(), untraced])
        .await
        .unwrap();

    let (_connection, channel) = broker.raw_channel().await;
    let got = get_eventually(&channel, "distorch.task.payments").await;
    let headers = got
        .delivery
        .properties
        .headers()
        .clone()
        .unwrap_or_default();
    match headers.inner().get("traceparent") {
        Some(lapin::types::AMQPValue::LongString(value)) => {
            assert_eq!(value.to_string(), traceparent);
        }
        other => panic!("expected a traceparent header, got {other:?}"),
    }
    let body: TaskMessage = serde_json::from_slice(&got.delivery.data).unwrap();
    assert_eq!(body, traced);
    let plain = get_eventually(&channel, "distorch.task.payments").await;
    let headers = plain
        .delivery
        .properties
        .headers()
        .clone()
        .unwrap_or_default();
    assert!(!headers.inner().contains_key("traceparent"), "{headers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_persistent_json_with_message_id_and_priority() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let sent = task("payments", "charge", 7);

    bus.publish_tasks(std::slice::from_ref(&sent))
        .await
        .unwrap();

    let (_connection, channel) = broker.raw_channel().await;
    let got = get_eventually(&channel, "distorch.task.payments").await;
    let properties = &got.delivery.properties;
    assert_eq!(properties.delivery_mode(), &Some(2));
    assert_eq!(properties.priority(), &Some(7));
    assert_eq!(
        properties.content_type().as_ref().map(|t| t.as_str()),
        Some("application/json")
    );
    assert_eq!(
        properties.message_id().as_ref().map(|id| id.as_str()),
        Some(sent.task_id.as_str())
    );
    let body: TaskMessage = serde_json::from_slice(&got.delivery.data).unwrap();
    assert_eq!(body, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_bounds_the_unacknowledged_deliveries() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut subscription = bus.consume_tasks("payments", 2).await.unwrap();
    let sent: Vec<_> = (0..5)
        .map(|n| task("payments", &format!("s{n}"), 0))
        .collect();
    bus.publish_tasks(&sent).await.unwrap();

    let first = next(&mut subscription).await;
    let second = next(&mut subscription).await;
    let third = tokio::time::timeout(Duration::from_secs(1), subscription.next()).await;
    assert!(
        third.is_err(),
        "a third delivery arrived while two were unacknowledged"
    );

    first.ack().await.unwrap();
    let third = next(&mut subscription).await;
    assert_eq!(third.message(), &sent[2]);
    assert_eq!(second.message(), &sent[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeued_task_is_redelivered_marked_as_such() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut subscription = bus.consume_tasks("payments", 1).await.unwrap();
    let sent = task("payments", "charge", 0);
    bus.publish_tasks(std::slice::from_ref(&sent))
        .await
        .unwrap();

    let first = next(&mut subscription).await;
    assert!(!first.redelivered());
    first.requeue().await.unwrap();

    let again = next(&mut subscription).await;
    assert_eq!(again.message(), &sent);
    assert!(again.redelivered());
    again.ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_task_lands_in_the_dead_letter_queue_of_its_queue() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut subscription = bus.consume_tasks("payments", 1).await.unwrap();
    let sent = task("payments", "charge", 3);
    bus.publish_tasks(std::slice::from_ref(&sent))
        .await
        .unwrap();

    next(&mut subscription).await.reject().await.unwrap();

    let (_connection, channel) = broker.raw_channel().await;
    let dead = get_eventually(&channel, &dead_letter_queue("payments")).await;
    let body: TaskMessage = serde_json::from_slice(&dead.delivery.data).unwrap();
    assert_eq!(body, sent);
    let headers = dead
        .delivery
        .properties
        .headers()
        .clone()
        .unwrap_or_default();
    assert!(
        headers.inner().contains_key("x-death"),
        "a dead-lettered message carries x-death"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_message_is_dead_lettered_and_consumption_goes_on() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut subscription = bus.consume_tasks("payments", 1).await.unwrap();
    let (_connection, channel) = broker.raw_channel().await;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for garbage in [&b"not json at all"[..], br#"{"task_id": 12}"#] {
        let confirm = channel
            .basic_publish(
                TASKS_EXCHANGE.into(),
                "payments".into(),
                BasicPublishOptions::default(),
                garbage,
                BasicProperties::default(),
            )
            .await
            .unwrap();
        assert!(confirm.await.unwrap().is_ack());
    }
    let sent = task("payments", "charge", 0);
    bus.publish_tasks(std::slice::from_ref(&sent))
        .await
        .unwrap();

    let delivery = next(&mut subscription).await;
    assert_eq!(delivery.message(), &sent);
    delivery.ack().await.unwrap();

    let first = get_eventually(&channel, &dead_letter_queue("payments")).await;
    let second = get_eventually(&channel, &dead_letter_queue("payments")).await;
    assert_eq!(first.delivery.data, b"not json at all");
    assert_eq!(second.delivery.data, br#"{"task_id": 12}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_round_trip() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut results = bus.consume_results(5).await.unwrap();
    let task = task("payments", "charge", 0);
    let sent = [
        TaskResult::for_task(
            &task,
            TaskOutcome::Started {
                worker: "w1".into(),
            },
        ),
        TaskResult::for_task(
            &task,
            TaskOutcome::Completed {
                output: json!({"charge_id": "ch_1"}),
            },
        ),
    ];

    for result in &sent {
        bus.publish_result(result).await.unwrap();
    }
    for expected in &sent {
        let delivery = next(&mut results).await;
        assert_eq!(delivery.message(), &ResultBatch(vec![expected.clone()]));
        delivery.ack().await.unwrap();
    }

    // Several results in one message, as a worker reports what it finished
    // at once: one delivery carries them all, in order.
    bus.publish_results(&sent).await.unwrap();
    let delivery = next(&mut results).await;
    assert_eq!(delivery.message(), &ResultBatch(sent.to_vec()));
    delivery.ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_when_the_broker_closes_its_connections() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut subscription = bus.consume_tasks("payments", 5).await.unwrap();
    let before = task("payments", "before", 0);
    bus.publish_tasks(std::slice::from_ref(&before))
        .await
        .unwrap();
    let in_flight = next(&mut subscription).await;
    assert_eq!(in_flight.message(), &before);

    assert!(broker.close_connections() >= 1, "no connection to close");

    // Its channel is gone: the ack is a no-op and the broker redelivers.
    within("the stale ack", async {
        while in_flight.is_settleable() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    in_flight.ack().await.unwrap();
    let after = task("payments", "after", 0);
    publish_eventually(&bus, &after).await;

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let delivery = next(&mut subscription).await;
        seen.push((delivery.message().clone(), delivery.redelivered()));
        delivery.ack().await.unwrap();
    }
    assert!(seen.contains(&(before, true)), "{seen:?}");
    assert!(
        seen.iter().any(|(message, _)| message == &after),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_fail_fast_during_an_outage_and_succeed_after_it() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut subscription = bus.consume_tasks("payments", 5).await.unwrap();

    // Deleting the vhost closes the connections and refuses new ones.
    broker.delete_vhost();
    let failed = within("a publish to fail", async {
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(5),
                bus.publish_tasks(&[task("payments", "during", 0)]),
            )
            .await
            .expect("a publish during the outage did not return promptly");
            if let Err(error) = attempt {
                return error;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(matches!(failed, Error::Unavailable { .. }), "{failed:?}");

    // Back, but empty: the topology must be declared again.
    broker.restore_vhost();
    let after = task("payments", "after", 0);
    publish_eventually(&bus, &after).await;

    let delivery = next(&mut subscription).await;
    assert_eq!(delivery.message(), &after);
    delivery.ack().await.unwrap();
}

/// Retries a publish the way the outbox relay does, for at most PATIENCE.
async fn publish_eventually(bus: &RabbitBus, task: &TaskMessage) {
    within("a publish to succeed again", async {
        loop {
            match bus.publish_tasks(std::slice::from_ref(task)).await {
                Ok(()) => return,
                Err(Error::Unavailable { .. }) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(other) => panic!("unexpected error: {other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_tasks_are_counted_and_redriven_to_their_queue() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut subscription = bus.consume_tasks("payments", 2).await.unwrap();
    let sent = [task("payments", "charge", 0), task("payments", "refund", 3)];
    bus.publish_tasks(&sent).await.unwrap();
    for _ in 0..2 {
        next(&mut subscription).await.reject().await.unwrap();
    }
    within("both tasks dead-lettered", async {
        while bus.dead_letter_count("payments").await.unwrap() < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;

    assert_eq!(bus.redrive("payments").await.unwrap(), 2);
    assert_eq!(bus.dead_letter_count("payments").await.unwrap(), 0);
    let mut again = Vec::new();
    for _ in 0..2 {
        let delivery = next(&mut subscription).await;
        again.push(delivery.message().clone());
        delivery.ack().await.unwrap();
    }
    again.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    let mut expected = sent.to_vec();
    expected.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    assert_eq!(again, expected, "the same tasks, intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handout_takes_each_task_once_and_waits_for_one_when_the_queue_is_empty() {
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let sent = [task("polled", "charge", 0), task("polled", "ship", 0)];
    bus.publish_tasks(&sent).await.unwrap();
    let mut taken = Vec::new();
    for _ in 0..2 {
        let found = within("a task", bus.take("polled", PATIENCE)).await;
        taken.push(found.unwrap().expect("a task is there"));
    }
    taken.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    let mut expected = sent.to_vec();
    expected.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    assert_eq!(taken, expected);
    // Acknowledged when handed out: nothing comes back once the channels
    // that carried them are closed.
    let empty = bus.take("polled", Duration::from_millis(500)).await;
    assert_eq!(empty.unwrap(), None);

    let waiting = tokio::spawn({
        let bus = bus.clone();
        async move { bus.take("polled", PATIENCE).await }
    });
    let late = task("polled", "late", 0);
    publish_eventually(&bus, &late).await;
    let woken = within("the waiting poll", waiting).await.unwrap().unwrap();
    assert_eq!(woken, Some(late));
}

/// Completes each task once `together` tasks are running: they all finish
/// at the same moment, as under load.
struct AllAtOnce {
    together: std::sync::Arc<tokio::sync::Barrier>,
}

impl application::loops::Executor for AllAtOnce {
    async fn execute(&self, _task: &TaskMessage) -> TaskOutcome {
        self.together.wait().await;
        TaskOutcome::Completed { output: json!(1) }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_publishes_results_ready_together_in_fewer_messages() {
    // Three rounds of the worker's prefetch (16): a round can only be
    // delivered once the tasks of the one before were acknowledged.
    const PREFETCH: usize = 16;
    const TASKS: usize = 3 * PREFETCH;
    let broker = TestBroker::new();
    let bus = broker.bus().await;
    let mut results = bus.consume_results(256).await.unwrap();
    let tasks: Vec<TaskMessage> = (0..TASKS)
        .map(|n| task("work", &format!("step-{n}"), 0))
        .collect();
    bus.publish_tasks(&tasks).await.unwrap();
    let worker = std::sync::Arc::new(application::loops::Worker::new(
        bus.clone(),
        "work",
        "w1",
        AllAtOnce {
            together: std::sync::Arc::new(tokio::sync::Barrier::new(PREFETCH)),
        },
    ));
    let running = tokio::spawn(worker.clone().run());

    let mut messages = 0;
    let mut reported = Vec::new();
    while reported.len() < TASKS {
        let delivery = next(&mut results).await;
        messages += 1;
        reported.extend(delivery.message().0.iter().map(|r| r.step.to_string()));
        delivery.ack().await.unwrap();
    }
    reported.sort();
    let mut expected: Vec<String> = tasks.iter().map(|t| t.step.to_string()).collect();
    expected.sort();
    assert_eq!(reported, expected, "each task reported once");
    assert!(
        messages < TASKS,
        "{TASKS} results ready {PREFETCH} at a time went out in {messages} messages"
    );
    running.abort();
}
