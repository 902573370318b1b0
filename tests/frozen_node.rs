//! A node frozen by SIGSTOP beside a live one (PostgreSQL + RabbitMQ, a
//! vhost of the test's own): the results it had prefetched go back to the
//! broker once the broker stops hearing its heartbeats, and the live node
//! finishes every workflow while the frozen one is still stopped.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{CHAIN, Node, Services, start, wait_until_final, worker, workflows_folder};

const WORKFLOWS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_holds_no_results_past_the_broker_heartbeat_and_the_other_node_finishes_the_work()
 {
    let services = Services::new().await;
    let folder = workflows_folder("frozen-node", "chain", CHAIN);
    let env = services.env();
    // Started first, so it runs the projections (one node at a time).
    let live = Node::new(&folder).env(&env).spawn();
    let frozen = Node::new(&folder).env(&env).spawn();
    let _worker = worker("work", "cat > /dev/null; sleep 0.05; echo '{}'", &env);
    let client = reqwest::Client::new();
    let url = live.url.clone().unwrap();

    let mut ids = Vec::with_capacity(WORKFLOWS);
    let mut frozen_at = None;
    for n in 0..WORKFLOWS {
        ids.push(start(&client, &url, "chain", json!({})).await);
        if n == WORKFLOWS / 4 {
            frozen.signal("STOP");
            frozen_at = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let frozen_at = frozen_at.unwrap();
    // Well under the broker's own 60 s heartbeat, which held them before.
    let statuses = wait_until_final(&client, &url, &ids, Duration::from_secs(40)).await;
    let took = frozen_at.elapsed();
    let completed = statuses.iter().filter(|s| *s == "completed").count();
    assert_eq!(completed, WORKFLOWS, "{statuses:?}");
    eprintln!("every workflow completed {took:?} after the other node froze");

    // Woken, the frozen node reconnects and answers again.
    frozen.signal("CONT");
    let frozen_url = frozen.url.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = client
            .get(format!("{frozen_url}/health/ready"))
            .send()
            .await;
        if live.is_ok_and(|response| response.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the woken node never became ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop((frozen, live));
    services.remove().await;
}
