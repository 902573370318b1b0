//! Faults injected into a running `distorch serve` on PostgreSQL and
//! RabbitMQ with a separate worker process: the broker closes every
//! connection, the database terminates every session, results arrive twice.
//! Whatever happens, every workflow started must complete, and no result may
//! take effect twice.

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use application::messages::TaskResult;
use application::ports::Bus;
use infrastructure::bus::{RabbitBus, RabbitConfig};
use serde_json::json;
use support::{
    CHAIN, Node, Process, Services, TempFolder, rabbitmqctl, request_start, started_id,
    wait_until_final, worker, workflows_folder,
};

/// Workflows started per test, one every `START_EVERY`, so that the faults
/// land while some are being started and others run.
const WORKFLOWS: usize = 40;
const START_EVERY: Duration = Duration::from_millis(50);
/// When the faults are injected: once so many workflows were started (the
/// starts wait for each fault). By progress, not by the clock, so that under
/// load (CI runs every test at once on two cores) they still land mid-run.
const FAULTS_AFTER: [usize; 3] = [10, 20, 30];
/// The PostgreSQL application name of the test's own checks, which the
/// database fault spares so that it counts only the engine's sessions.
const CHECKS: &str = "distorch-faults-checks";
/// How long every workflow has to complete once all are started.
const WITHIN: Duration = Duration::from_secs(90);

/// Starts one workflow, trying again while the node answers 5xx or not at
/// all (its database may be away). A start that failed may still have been
/// stored: the database checks below count every workflow, not only these.
async fn start(client: &reqwest::Client, url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match request_start(client, url, "chain", json!({})).await {
            Ok(response) if response.status() == 201 => return started_id(response).await,
            Ok(response) if !response.status().is_server_error() => {
                panic!("start refused: {}", response.status())
            }
            _ if Instant::now() > deadline => panic!("no workflow could be started for 30 s"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One node and one worker process on a database and vhost of their own.
struct Cluster {
    services: Services,
    folder: TempFolder,
    node: Process,
    worker: Process,
    url: String,
    client: reqwest::Client,
    /// On the test's database, for the checks.
    pool: sqlx::PgPool,
}

impl Cluster {
    async fn start(name: &str) -> Self {
        let services = Services::new().await;
        let folder = workflows_folder(&format!("faults-{name}"), "chain", CHAIN);
        let env = services.env();
        let node = Node::new(&folder).env(&env).spawn();
        let worker = worker("work", "sleep 0.02; echo '{}'", &env);
        let options: sqlx::postgres::PgConnectOptions = services.database_url.parse().unwrap();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.application_name(CHECKS))
            .await
            .unwrap();
        Self {
            url: node.url.clone().unwrap(),
            services,
            folder,
            node,
            worker,
            client: reqwest::Client::new(),
            pool,
        }
    }

    /// Starts `WORKFLOWS` workflows, one every `START_EVERY`, in the
    /// background; counts them in `started`. Once `pauses[k]` are started
    /// it waits until `injected` says that fault `k` was injected: so each
    /// fault lands with workflows left to start and others running, however
    /// slowly the machine injects it (rabbitmqctl takes seconds under load).
    fn start_workflows(
        &self,
        started: Arc<AtomicUsize>,
        pauses: &'static [usize],
        mut injected: tokio::sync::watch::Receiver<usize>,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        let (client, url) = (self.client.clone(), self.url.clone());
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(WORKFLOWS);
            for n in 0..WORKFLOWS {
                if let Some(fault) = pauses.iter().position(|&pause| pause == n) {
                    let _ = injected.wait_for(|&done| done > fault).await;
                }
                ids.push(start(&client, &url).await);
                started.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(START_EVERY).await;
            }
            ids
        })
    }

    /// Workflows in the database without a final event yet. Retries while
    /// the database is being disrupted.
    async fn unfinished(&self) -> i64 {
        let query = "select count(distinct stream_id) from events e
             where not exists (select 1 from events f where f.stream_id = e.stream_id
                 and f.type in ('WorkflowCompleted', 'WorkflowFailed', 'WorkflowCompensated', 'WorkflowCompensationFailed', 'WorkflowCancelled'))";
        for _ in 0..50 {
            if let Ok(count) = sqlx::query_scalar(query).fetch_one(&self.pool).await {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the test's database does not answer")
    }

    /// Waits for every workflow started through the API, then checks the
    /// database: every workflow in it completed, and no result took effect
    /// twice (one `StepStarted` and one `StepCompleted` per step).
    async fn assert_all_complete(&mut self, ids: &[String]) {
        let began = Instant::now();
        let statuses = wait_until_final(&self.client, &self.url, ids, WITHIN).await;
        let completed = statuses.iter().filter(|s| *s == "completed").count();
        if completed != ids.len() {
            let diagnosis = self.diagnose().await;
            panic!(
                "{completed} of {} workflows completed within {WITHIN:?}: {statuses:?}\n{diagnosis}",
                ids.len()
            );
        }
        eprintln!(
            "all {} workflows completed {:.1} s after the last start",
            ids.len(),
            began.elapsed().as_secs_f64()
        );
        let stored: i64 = sqlx::query_scalar("select count(distinct stream_id) from events")
            .fetch_one(&self.pool)
            .await
            .unwrap();
        assert!(stored >= ids.len() as i64);
        assert_eq!(
            self.unfinished().await,
            0,
            "a workflow started by a request that failed never finished\n{}",
            self.diagnose().await
        );
        self.assert_no_event_twice().await;
    }

    /// No result took effect twice: one start, one completion... per step.
    async fn assert_no_event_twice(&self) {
        let repeated: Vec<(uuid::Uuid, String, Option<String>, i64)> = sqlx::query_as(
            "select stream_id, type, data->>'step', count(*) from events
             where type in ('StepScheduled', 'StepStarted', 'StepCompleted', 'WorkflowStarted', 'WorkflowCompleted')
             group by stream_id, type, data->>'step' having count(*) > 1",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        assert!(
            repeated.is_empty(),
            "events recorded more than once: {repeated:?}"
        );
    }

    /// What the broker, the database and the processes hold, for a failure message.
    /// The processes' logs come first: a CI log cut to its tail keeps the
    /// counts.
    async fn diagnose(&mut self) -> String {
        let mut report = String::new();
        report.push_str(&self.node.report("node"));
        report.push('\n');
        report.push_str(&self.worker.report("worker"));
        report.push('\n');
        let queues = Command::new("rabbitmqctl")
            .args([
                "list_queues",
                "-p",
                &self.services.vhost,
                "name",
                "messages_ready",
                "messages_unacknowledged",
                "consumers",
            ])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default();
        report.push_str(&format!("queues:\n{queues}\n"));
        let connections = Command::new("rabbitmqctl")
            .args([
                "list_connections",
                "-p",
                &self.services.vhost,
                "client_properties",
                "state",
                "channels",
            ])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default();
        report.push_str(&format!("connections:\n{connections}\n"));
        for (what, query) in [
            ("outbox rows", "select count(*) from outbox"),
            ("timers", "select count(*) from timers"),
            ("events", "select count(*) from events"),
        ] {
            let count: Result<i64, _> = sqlx::query_scalar(query).fetch_one(&self.pool).await;
            report.push_str(&format!("{what}: {count:?}\n"));
        }
        let last: Result<Vec<(String, i64)>, _> = sqlx::query_as(
            "select type, count(*) from (select distinct on (stream_id) stream_id, type from events
                 order by stream_id, version desc) last group by type",
        )
        .fetch_all(&self.pool)
        .await;
        report.push_str(&format!("last event of each workflow: {last:?}\n"));
        let backends: Result<Vec<(String, i64)>, _> = sqlx::query_as(
            "select coalesce(state, '?'), count(*) from pg_stat_activity
             where datname = current_database() group by 1",
        )
        .fetch_all(&self.pool)
        .await;
        report.push_str(&format!("database sessions: {backends:?}\n"));
        report
    }

    async fn stop(self) {
        let Self {
            services,
            folder,
            node,
            worker,
            pool,
            ..
        } = self;
        drop(worker);
        drop(node);
        pool.close().await;
        services.remove().await;
        std::fs::remove_dir_all(folder).ok();
    }
}

/// Runs `inject` once so many workflows were started, for each number of
/// `faults_after`, while workflows start and run; then expects every one
/// of them to complete.
async fn survives<F, Fut>(name: &str, faults_after: &'static [usize], inject: F)
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut cluster = Cluster::start(name).await;
    let began = Instant::now();
    let started = Arc::new(AtomicUsize::new(0));
    let (injected, pauses) = tokio::sync::watch::channel(0);
    let starting = cluster.start_workflows(started.clone(), faults_after, pauses);
    let mut hits = Vec::new();
    for (fault, &after) in faults_after.iter().enumerate() {
        while started.load(Ordering::Relaxed) < after {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let unstarted = WORKFLOWS - started.load(Ordering::Relaxed);
        let unfinished = cluster.unfinished().await;
        let hit = inject(
            cluster.services.vhost.clone(),
            cluster.services.database.clone(),
        )
        .await;
        injected.send_replace(fault + 1);
        hits.push((unstarted, unfinished, hit));
    }
    eprintln!(
        "{name}: (workflows not started yet, started but unfinished, connections hit) \
         at each fault: {hits:?}"
    );
    assert!(
        hits.iter()
            .all(|(unstarted, unfinished, _)| *unstarted > 0 || *unfinished > 0),
        "a fault came after the run: {hits:?}"
    );
    assert!(
        hits.iter().all(|(_, _, hit)| *hit > 0),
        "a fault hit no connection: {hits:?}"
    );
    let ids = starting.await.unwrap();
    cluster.assert_all_complete(&ids).await;
    eprintln!("{name}: {:.1} s in all", began.elapsed().as_secs_f64());
    cluster.stop().await;
}

/// The node's and the worker's connections to the vhost.
const CONNECTIONS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_connections_closed_mid_run() {
    survives("broker", &FAULTS_AFTER, |vhost, _| async move {
        let closed = tokio::task::spawn_blocking(move || {
            // Each fault closes live connections: under load the reconnects
            // after the previous one may not be done yet.
            let deadline = Instant::now() + Duration::from_secs(15);
            while open_connections(&vhost) < CONNECTIONS && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            rabbitmqctl(&["close_all_connections", "-p", &vhost, "test"])
        })
        .await
        .unwrap();
        // "Closed 3 connections"
        closed
            .lines()
            .find_map(|line| line.strip_prefix("Closed "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|count| count.parse().ok())
            .unwrap_or(0)
    })
    .await;
}

fn open_connections(vhost: &str) -> usize {
    rabbitmqctl(&[
        "list_connections",
        "-p",
        vhost,
        "--no-table-headers",
        "--quiet",
        "state",
    ])
    .lines()
    .filter(|state| state.trim() == "running")
    .count()
}

/// Stops the RabbitMQ application and starts it again mid-run. It takes the
/// whole shared broker away, so it cannot run beside the other tests:
/// `scripts/test` runs it alone, after them (`--run-ignored only`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared broker: scripts/test runs it alone, after the rest"]
async fn broker_restarted_mid_run() {
    survives("broker-restart", &[14], |_, _| async move {
        tokio::task::spawn_blocking(|| {
            rabbitmqctl(&["stop_app"]);
            std::thread::sleep(Duration::from_secs(2));
            rabbitmqctl(&["start_app"]);
            rabbitmqctl(&["await_startup"]);
        })
        .await
        .unwrap();
        1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_connections_terminated_mid_run() {
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL is set");
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    survives("database", &FAULTS_AFTER, |_, database| {
        let admin = admin.clone();
        async move {
            let terminated: Vec<bool> = sqlx::query_scalar(
                "select pg_terminate_backend(pid) from pg_stat_activity
                 where datname = $1 and pid <> pg_backend_pid() and application_name <> $2",
            )
            .bind(database)
            .bind(CHECKS)
            .fetch_all(&admin)
            .await
            .unwrap();
            terminated.into_iter().filter(|done| *done).count()
        }
    })
    .await;
}

/// The results of a workflow's steps as the worker published them, read
/// back from its events: one `started` and one `completed` per step.
async fn results_of(pool: &sqlx::PgPool, id: &str) -> Vec<TaskResult> {
    let rows: Vec<(String, String, i32)> = sqlx::query_as(
        "select type, data->>'step', (data->>'attempt')::int from events
         where stream_id = $1::uuid and type in ('StepStarted', 'StepCompleted') order by version",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(kind, step, attempt)| {
            let outcome = if kind == "StepStarted" {
                json!({"outcome": "started", "worker": "exec"})
            } else {
                json!({"outcome": "completed", "output": {}})
            };
            let mut result = json!({
                "task_id": format!("{id}:{step}:forward:{attempt}"),
                "instance_id": id,
                "step": step,
                "attempt": attempt,
                "kind": "forward",
            });
            result
                .as_object_mut()
                .unwrap()
                .extend(outcome.as_object().unwrap().clone());
            serde_json::from_value(result).unwrap()
        })
        .collect()
}

async fn event_counts(pool: &sqlx::PgPool) -> HashMap<uuid::Uuid, i64> {
    let rows: Vec<(uuid::Uuid, i64)> =
        sqlx::query_as("select stream_id, count(*) from events group by stream_id")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// How stale RabbitMQ's message counts may be: quorum queues refresh them
/// every `quorum_tick_interval` (5 s); classic ones (the results queue) are
/// fresher, and the margin costs one wait per test.
const QUEUE_STATS_LAG: Duration = Duration::from_secs(6);

/// Waits until the results queue holds nothing, acknowledged or not, as
/// counted after everything published by `since` (so a count from before
/// the publish cannot pass for it); returns what the results dead-letter
/// queue holds then.
async fn results_settled(vhost: &str, since: Instant) -> u64 {
    tokio::time::sleep_until((since + QUEUE_STATS_LAG).into()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let vhost = vhost.to_owned();
        let listing = tokio::task::spawn_blocking(move || {
            rabbitmqctl(&[
                "list_queues",
                "-p",
                &vhost,
                "--no-table-headers",
                "--quiet",
                "name",
                "messages",
            ])
        })
        .await
        .unwrap();
        let count = |queue: &str| {
            listing
                .lines()
                .filter_map(|line| line.split_once('\t'))
                .filter(|(name, _)| *name == queue)
                .filter_map(|(_, count)| count.trim().parse::<u64>().ok())
                .sum::<u64>()
        };
        if count("distorch.results") == 0 {
            return count("distorch.results.dlq");
        }
        assert!(
            Instant::now() < deadline,
            "results still queued after 30 s: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_delivered_twice_change_nothing() {
    let mut cluster = Cluster::start("twice").await;
    let bus = RabbitBus::connect(RabbitConfig {
        url: cluster.services.amqp_url.clone(),
        connection_name: "distorch-faults-test".into(),
    })
    .await
    .unwrap();
    // While the run goes on: every result recorded so far, once more.
    let started = Arc::new(AtomicUsize::new(0));
    let (injected, pauses) = tokio::sync::watch::channel(0);
    let starting = cluster.start_workflows(started.clone(), &FAULTS_AFTER, pauses);
    let mut published = 0;
    for (fault, after) in FAULTS_AFTER.into_iter().enumerate() {
        while started.load(Ordering::Relaxed) < after {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ids: Vec<String> = sqlx::query_scalar("select distinct stream_id::text from events")
            .fetch_all(&cluster.pool)
            .await
            .unwrap();
        for id in &ids {
            for result in results_of(&cluster.pool, id).await {
                bus.publish_result(&result).await.unwrap();
                published += 1;
            }
        }
        injected.send_replace(fault + 1);
    }
    let ids = starting.await.unwrap();
    cluster.assert_all_complete(&ids).await;

    // Once all are complete: every result once more, and nothing changes.
    let before = event_counts(&cluster.pool).await;
    for id in &ids {
        let results = results_of(&cluster.pool, id).await;
        // A step's start may have come after its completion and been dropped.
        let completions = results.iter().filter(|result| {
            matches!(
                result.outcome,
                application::messages::TaskOutcome::Completed { .. }
            )
        });
        assert_eq!(completions.count(), 4, "one completion per step");
        for result in results {
            bus.publish_result(&result).await.unwrap();
            published += 1;
        }
    }
    let dead_lettered = results_settled(&cluster.services.vhost, Instant::now()).await;
    assert_eq!(event_counts(&cluster.pool).await, before);
    cluster.assert_no_event_twice().await;
    let statuses = wait_until_final(&cluster.client, &cluster.url, &ids, WITHIN).await;
    assert!(statuses.iter().all(|s| s == "completed"), "{statuses:?}");
    assert_eq!(
        dead_lettered, 0,
        "duplicates are acknowledged, not dead-lettered"
    );
    eprintln!("published {published} duplicate results");
    drop(bus);
    cluster.stop().await;
}
