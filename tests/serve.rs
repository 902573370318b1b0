//! `distorch serve` as users run it: the embedded default, and several
//! nodes on PostgreSQL and RabbitMQ with a separate worker process, one of
//! them killed with SIGKILL while workflows run.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{CHAIN, Node, Services, distorch, start, wait_until_final, worker, workflows_folder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_node_runs_workflows_started_over_http() {
    let folder = workflows_folder("serve-embedded", "chain", CHAIN);
    let node = Node::new(&folder).exec("work=echo '{}'").spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let ids = vec![
        start(&client, &url, "chain", json!({})).await,
        start(&client, &url, "chain", json!({})).await,
    ];
    let statuses = wait_until_final(&client, &url, &ids, Duration::from_secs(30)).await;
    assert_eq!(statuses, ["completed", "completed"]);

    let missing = client
        .get(format!("{url}/api/v1/workflows/{}", uuid::Uuid::nil()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let bad = client
        .post(format!("{url}/api/v1/workflows"))
        .json(&json!({"nope": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let cli = |definition: &str| {
        distorch(&["start", definition, "--server", &url, "--input", "{}"])
            .output()
            .unwrap()
    };
    let started = tokio::task::block_in_place(|| cli("chain"));
    assert_eq!(
        started.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let id = String::from_utf8(started.stdout).unwrap().trim().to_owned();
    assert_eq!(
        wait_until_final(&client, &url, &[id], Duration::from_secs(30)).await,
        ["completed"]
    );
    let unknown = tokio::task::block_in_place(|| cli("nope"));
    assert_eq!(
        unknown.status.code(),
        Some(5),
        "404: docs/cli.md's exit codes"
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("definition nope not found"));
    let done = client
        .post(format!("{url}/api/v1/workflows/{}/pause", ids[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 409, "a completed workflow cannot be paused");
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_postgres_and_rabbitmq_survive_one_of_them_being_killed() {
    let services = Services::new().await;
    let folder = workflows_folder("serve-cluster", "chain", CHAIN);
    let env = services.env();
    let first = Node::new(&folder).env(&env).spawn();
    let second = Node::new(&folder).env(&env).spawn();
    let _worker = worker("work", "sleep 0.05; echo '{}'", &env);
    let client = reqwest::Client::new();
    let (first_url, second_url) = (first.url.clone().unwrap(), second.url.clone().unwrap());
    let mut ids = Vec::new();
    for n in 0..30 {
        let url = if n % 2 == 0 { &first_url } else { &second_url };
        ids.push(start(&client, url, "chain", json!({})).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SIGKILL: no chance to finish anything it holds.
    drop(first);
    let statuses = wait_until_final(&client, &second_url, &ids, Duration::from_secs(90)).await;
    let completed = statuses.iter().filter(|s| *s == "completed").count();
    assert_eq!(completed, ids.len(), "{statuses:?}");
    drop(second);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}

/// `distorch deploy` sends a definition to a running node, which then starts
/// it; an invalid one is refused with every problem at its line and column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_deployed_with_the_cli_can_be_started() {
    let folder = workflows_folder("serve-deploy", "chain", CHAIN);
    let node = Node::new(&folder).exec("work=echo '{}'").spawn();
    let url = node.url.clone().unwrap();
    let fresh = folder.join("fresh.yaml");
    std::fs::write(
        &fresh,
        "name: fresh\nversion: 1\nsteps:\n  only: { type: task, queue: work }\n",
    )
    .unwrap();
    let broken = folder.join("broken.yaml");
    std::fs::write(
        &broken,
        "name: broken\nversion: 1\nsteps:\n  only: { type: task, queue: work, needs: [ghost] }\n",
    )
    .unwrap();
    let deploy = |file: &std::path::Path| {
        let file = file.to_str().unwrap().to_owned();
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            distorch(&["deploy", &file, "--server", &url])
                .output()
                .unwrap()
        })
    };

    let deployed = deploy(&fresh).await.unwrap();
    let said = String::from_utf8_lossy(&deployed.stdout);
    assert!(deployed.status.success(), "{said} {deployed:?}");
    assert!(said.contains("deployed fresh version 1"), "{said}");

    let refused = deploy(&broken).await.unwrap();
    let complaint = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{complaint}");
    assert!(
        complaint.contains("broken.yaml:4:") && complaint.contains("ghost"),
        "{complaint}"
    );

    let client = reqwest::Client::new();
    let id = start(&client, &url, "fresh", json!({})).await;
    let statuses = wait_until_final(&client, &url, &[id], Duration::from_secs(30)).await;
    assert_eq!(statuses, ["completed"]);
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}
