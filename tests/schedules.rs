//! Schedules through the real binary: created with the CLI and the API,
//! refused when invalid, paused and resumed; on two PostgreSQL nodes, one
//! killed mid-way, every tick starts exactly one workflow; `skip` never
//! lets two of a schedule's workflows overlap.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use support::{Node, Process, Services, distorch, get_json, workflows_folder};

const TICKER: &str = r#"
name: ticker
version: 1
steps:
  only: { type: noop }
"#;

/// Declares its own schedule: every second, skipped while one runs.
const SLOW: &str = r#"
name: slow
version: 1
steps:
  only: { type: noop, duration: 2500ms }
schedules:
  every-second: { cron: "* * * * * *", overlap: skip }
"#;

fn schedules(url: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["schedules"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--server", url]);
    distorch(&all).output().unwrap()
}

async fn workflows_of(client: &reqwest::Client, url: &str, definition: &str) -> Vec<Value> {
    let page = get_json(
        client,
        &format!("{url}/api/v1/workflows?definition={definition}&limit=500"),
    )
    .await;
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until `definition` has at least `count` workflows shown.
async fn wait_for_workflows(client: &reqwest::Client, url: &str, definition: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = workflows_of(client, url, definition).await.len();
        if shown >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {shown} of {count} workflows started"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_managed_with_the_cli_and_refused_when_invalid_embedded() {
    let folder = workflows_folder("schedules", "ticker", TICKER);
    let node = Node::new(&folder).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();

    let created = schedules(
        &url,
        &[
            "create",
            "every-second",
            "--definition",
            "ticker",
            "--cron",
            "* * * * * *",
            "--timezone",
            "Europe/Paris",
            "--overlap",
            "allow",
            "--input",
            r#"{"n": 1}"#,
        ],
    );
    assert!(created.status.success(), "{created:?}");
    let shown = get_json(&client, &format!("{url}/api/v1/schedules/every-second")).await;
    assert_eq!(shown["timezone"], "Europe/Paris");
    assert_eq!(shown["overlap"], "allow");
    let times = shown["next_fire_times"].as_array().unwrap();
    assert_eq!(times.len(), 5, "{shown}");

    for (body, says) in [
        (
            json!({"name": "bad", "definition": "ticker", "cron": "* * * *"}),
            "4 fields",
        ),
        (
            json!({"name": "bad", "definition": "ticker", "cron": "0 2 * * *", "timezone": "Mars/Base"}),
            "Mars/Base",
        ),
        (
            json!({"name": "bad", "definition": "nothing", "cron": "0 2 * * *"}),
            "refused",
        ),
        (
            json!({"name": "bad", "definition": "ticker", "cron": "0 2 * * *", "overlap": "sometimes"}),
            "sometimes",
        ),
    ] {
        let response = client
            .post(format!("{url}/api/v1/schedules"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let problem: Value = response.json().await.unwrap();
        assert!([400, 422].contains(&status), "{body}: {status} {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    let again = client
        .post(format!("{url}/api/v1/schedules"))
        .json(&json!({"name": "every-second", "definition": "ticker", "cron": "0 2 * * *"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    wait_for_workflows(&client, &url, "ticker", 3).await;
    let paused = schedules(&url, &["pause", "every-second"]);
    assert!(paused.status.success(), "{paused:?}");
    let listed = schedules(&url, &["list"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("every-second") && listed.contains("paused"),
        "{listed}"
    );
    // Whatever was in flight lands; then nothing more starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = workflows_of(&client, &url, "ticker").await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(workflows_of(&client, &url, "ticker").await.len(), before);
    let started_by: Vec<_> = workflows_of(&client, &url, "ticker")
        .await
        .iter()
        .map(|workflow| workflow["input"].clone())
        .collect();
    assert!(started_by.iter().all(|input| *input == json!({"n": 1})));

    assert!(
        schedules(&url, &["resume", "every-second"])
            .status
            .success()
    );
    wait_for_workflows(&client, &url, "ticker", before + 2).await;
    assert!(
        schedules(&url, &["delete", "every-second"])
            .status
            .success()
    );
    let gone = client
        .get(format!("{url}/api/v1/schedules/every-second"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_schedule_with_skip_never_lets_its_workflows_overlap_embedded() {
    let folder = workflows_folder("schedules-skip", "slow", SLOW);
    let node = Node::new(&folder).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let declared = get_json(
        &client,
        &format!("{url}/api/v1/schedules/slow.every-second"),
    )
    .await;
    assert_eq!(declared["origin"], "definition", "{declared}");
    assert_eq!(declared["overlap"], "skip");
    wait_for_workflows(&client, &url, "slow", 3).await;
    let paused = client
        .post(format!("{url}/api/v1/schedules/slow.every-second/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    let ids: Vec<String> = workflows_of(&client, &url, "slow")
        .await
        .iter()
        .map(|workflow| workflow["id"].as_str().unwrap().to_owned())
        .collect();
    let states =
        support::wait_until_final_states(&client, &url, &ids, Duration::from_secs(60)).await;
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = states
        .iter()
        .map(|state| {
            let created = serde_json::from_value(state["created_at"].clone()).unwrap();
            let finished = serde_json::from_value(state["finished_at"].clone()).unwrap();
            (created, finished)
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two workflows overlapped: {pair:?}");
    }
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}

/// The ticks each workflow of the schedule was started for, from the
/// idempotency keys of its starts, and how many workflows it started in all
/// (from the log).
async fn ticks_and_starts(
    database_url: &str,
    schedule: &str,
) -> (BTreeMap<DateTime<Utc>, String>, i64) {
    let pool = sqlx::PgPool::connect(database_url).await.unwrap();
    let prefix = format!("schedule:{schedule}:");
    let rows: Vec<(String, uuid::Uuid)> =
        sqlx::query_as("select key, instance_id from idempotency_keys where key like $1 || '%'")
            .bind(&prefix)
            .fetch_all(&pool)
            .await
            .unwrap();
    let ticks = rows
        .into_iter()
        .map(|(key, id)| {
            let tick = DateTime::parse_from_rfc3339(&key[prefix.len()..])
                .unwrap()
                .to_utc();
            (tick, id.to_string())
        })
        .collect();
    let started: i64 = sqlx::query_scalar(
        "select count(*) from events where type = 'WorkflowStarted' and data->>'started_by' = $1",
    )
    .bind(format!("schedule:{schedule}"))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    (ticks, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tick_starts_one_workflow_while_one_of_two_nodes_is_killed() {
    let services = Services::new().await;
    let folder = workflows_folder("schedules-pg", "ticker", TICKER);
    let doomed: Process = Node::new(&folder).env(&services.env()).spawn();
    let survivor = Node::new(&folder).env(&services.env()).spawn();
    let (doomed_url, url) = (doomed.url.clone().unwrap(), survivor.url.clone().unwrap());
    let client = reqwest::Client::new();
    let body =
        json!({"name": "ticks", "definition": "ticker", "cron": "* * * * * *", "overlap": "allow"});
    let response = client
        .post(format!("{doomed_url}/api/v1/schedules"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());

    wait_for_workflows(&client, &url, "ticker", 2).await;
    drop(doomed); // SIGKILL, wherever it is in a round
    wait_for_workflows(&client, &url, "ticker", 7).await;
    let paused = client
        .post(format!("{url}/api/v1/schedules/ticks/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    // A round in flight when the pause landed may still finish.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (ticks, started) = ticks_and_starts(&services.database_url, "ticks").await;
    assert!(ticks.len() >= 5, "{ticks:?}");
    assert_eq!(
        started as usize,
        ticks.len(),
        "one workflow per tick, none started twice: {ticks:?}"
    );
    let distinct: std::collections::BTreeSet<_> = ticks.values().collect();
    assert_eq!(
        distinct.len(),
        ticks.len(),
        "a workflow for two ticks: {ticks:?}"
    );
    let times: Vec<_> = ticks.keys().collect();
    for pair in times.windows(2) {
        assert_eq!(
            *pair[1] - *pair[0],
            chrono::Duration::seconds(1),
            "a tick was lost: {times:?}"
        );
    }
    drop(survivor);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}
