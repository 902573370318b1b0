//! The event store conformance suite, run against PostgreSQL (a fresh
//! database per test, from `DATABASE_URL`) and SQLite (a fresh file).

mod support;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use application::Error;
use application::codec::encode;
use application::ports::{
    APPENDED_OUTBOX_LEASE, AppendRequest, EventStore, Metadata, OutboxMessage, OutboxQueue,
    ScheduledTimer, TimerQueue,
};
use chrono::Utc;
use domain::instance::{Event, Timer};
use domain::{InstanceId, StepId};
use infrastructure::store::{PgEventStore, SqliteEventStore};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn metadata() -> Metadata {
    Metadata {
        event_id: Uuid::now_v7(),
        occurred_at: Utc::now(),
        correlation_id: Uuid::nil(),
        causation_id: None,
        actor: "test".into(),
        traceparent: None,
    }
}

fn completed(step: &str, attempt: u32) -> Event {
    Event::StepCompleted {
        step: StepId::from(step),
        attempt,
        output: json!({"n": attempt}),
    }
}

fn append(stream: InstanceId, expected: u64, events: &[Event]) -> AppendRequest {
    AppendRequest {
        stream_id: stream,
        expected_version: expected,
        events: events
            .iter()
            .map(|event| encode(event, metadata()).unwrap())
            .collect(),
        outbox: Vec::new(),
        timers: Vec::new(),
    }
}

fn with_effects(mut request: AppendRequest) -> AppendRequest {
    request.outbox.push(OutboxMessage {
        queue: "payments".into(),
        payload: json!({"task": 1}),
        priority: 3,
    });
    request.timers.push(ScheduledTimer {
        instance: request.stream_id,
        timer: Timer::StepRetry {
            step: StepId::from("a"),
            attempt: 2,
        },
        due_at: Utc::now(),
    });
    request
}

fn new_stream() -> InstanceId {
    InstanceId(Uuid::now_v7())
}

/// What the suite needs beyond the port: counting the side tables.
trait Fixture: EventStore + TimerQueue + OutboxQueue + Clone + 'static {
    fn side_rows(&self) -> impl Future<Output = (i64, i64)> + Send;
}

/// The same SQL on either store's pool, whose types differ.
macro_rules! count_side_rows {
    ($($store:ty),*) => {$(
        impl Fixture for $store {
            async fn side_rows(&self) -> (i64, i64) {
                let outbox = sqlx::query_scalar("select count(*) from outbox");
                let timers = sqlx::query_scalar("select count(*) from timers");
                (
                    outbox.fetch_one(self.pool()).await.unwrap(),
                    timers.fetch_one(self.pool()).await.unwrap(),
                )
            }
        }
    )*};
}

count_side_rows!(PgEventStore, SqliteEventStore);

async fn appends_and_loads_a_stream_in_order(store: impl Fixture) {
    let stream = new_stream();
    let outcome = store
        .append(append(stream, 0, &[completed("a", 1), completed("b", 1)]))
        .await
        .unwrap();
    assert_eq!(outcome.version, 2);
    let outcome = store
        .append(append(stream, 2, &[completed("c", 1)]))
        .await
        .unwrap();
    assert_eq!(outcome.version, 3);
    store
        .append(append(new_stream(), 0, &[completed("x", 1)]))
        .await
        .unwrap();

    let events = store.load(stream, 0).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(events[2].event_type, "StepCompleted");
    assert_eq!(
        application::codec::decode(&events[2]).unwrap(),
        completed("c", 1)
    );
    assert_eq!(events[2].position, outcome.last_position);
    let tail = store.load(stream, 2).await.unwrap();
    assert_eq!(tail.len(), 1);
    assert!(store.load(new_stream(), 0).await.unwrap().is_empty());
}

async fn refuses_an_append_at_the_wrong_version_and_writes_nothing(store: impl Fixture) {
    let stream = new_stream();
    store
        .append(with_effects(append(stream, 0, &[completed("a", 1)])))
        .await
        .unwrap();
    assert_eq!(store.side_rows().await, (1, 1));

    let stale = store
        .append(with_effects(append(stream, 0, &[completed("b", 1)])))
        .await;
    assert!(
        matches!(
            stale,
            Err(Error::Conflict {
                expected: 0,
                actual: 1
            })
        ),
        "{stale:?}"
    );
    let ahead = store
        .append(with_effects(append(stream, 5, &[completed("b", 1)])))
        .await;
    assert!(
        matches!(
            ahead,
            Err(Error::Conflict {
                expected: 5,
                actual: 1
            })
        ),
        "{ahead:?}"
    );

    assert_eq!(store.load(stream, 0).await.unwrap().len(), 1);
    assert_eq!(
        store.side_rows().await,
        (1, 1),
        "a refused append wrote outbox or timer rows"
    );
}

async fn a_batch_append_lands_every_stream_but_one_that_moved_on(store: impl Fixture) {
    let moved = new_stream();
    store
        .append(append(moved, 0, &[completed("a", 1)]))
        .await
        .unwrap();
    let (first, second) = (new_stream(), new_stream());
    let outcomes = store
        .append_batch(vec![
            with_effects(append(first, 0, &[completed("a", 1), completed("b", 1)])),
            with_effects(append(moved, 0, &[completed("b", 1)])),
            with_effects(append(second, 0, &[completed("c", 1)])),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(
        matches!(outcomes[0], Ok(ref outcome) if outcome.version == 2),
        "{outcomes:?}"
    );
    assert!(
        matches!(
            outcomes[1],
            Err(Error::Conflict {
                expected: 0,
                actual: 1
            })
        ),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], Ok(ref outcome) if outcome.version == 1),
        "{outcomes:?}"
    );
    let (Ok(first_outcome), Ok(second_outcome)) = (&outcomes[0], &outcomes[2]) else {
        unreachable!()
    };
    assert!(first_outcome.last_position < second_outcome.last_position);

    let loaded = store.load(first, 0).await.unwrap();
    assert_eq!(
        loaded.iter().map(|event| event.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(loaded[0].position < loaded[1].position);
    assert_eq!(loaded[1].position, first_outcome.last_position);
    assert_eq!(store.load(moved, 0).await.unwrap().len(), 1);
    assert_eq!(store.load(second, 0).await.unwrap().len(), 1);
    // Outbox and timer rows of the two streams that landed, none of the other.
    assert_eq!(store.side_rows().await, (2, 2));
    let ids: Vec<i64> = [first_outcome, second_outcome]
        .iter()
        .flat_map(|outcome| outcome.outbox_ids.clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    let claimed = store
        .claim_outbox(
            Utc::now() + chrono::Duration::seconds(11),
            std::time::Duration::from_secs(30),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    let timers = store
        .claim_due_timers(Utc::now(), std::time::Duration::from_secs(30), 10)
        .await
        .unwrap();
    let owners: HashSet<InstanceId> = timers.iter().map(|timer| timer.instance).collect();
    assert_eq!(owners, HashSet::from([first, second]));

    // A batch of one behaves as an append.
    let single = store
        .append_batch(vec![append(second, 0, &[completed("d", 1)])])
        .await
        .unwrap();
    assert!(
        matches!(
            single[..],
            [Err(Error::Conflict {
                expected: 0,
                actual: 1
            })]
        ),
        "{single:?}"
    );
}

async fn lets_exactly_one_of_two_racing_appends_win(store: impl Fixture) {
    let stream = new_stream();
    store
        .append(append(stream, 0, &[completed("a", 1)]))
        .await
        .unwrap();
    let (first, second) = tokio::join!(
        store.append(append(stream, 1, &[completed("b", 1)])),
        store.append(append(stream, 1, &[completed("c", 1)])),
    );
    let wins = [&first, &second]
        .iter()
        .filter(|result| result.is_ok())
        .count();
    assert_eq!(wins, 1, "{first:?} {second:?}");
    let loser = if first.is_ok() { second } else { first };
    assert!(
        matches!(
            loser,
            Err(Error::Conflict {
                expected: 1,
                actual: 2
            })
        ),
        "{loser:?}"
    );
    assert_eq!(store.load(stream, 0).await.unwrap().len(), 2);
}

/// Writers append to their own streams while a reader follows the global
/// log; the reader must see every event exactly once, in increasing read
/// order, even though transactions commit out of position order.
async fn reads_the_global_log_without_gaps_under_concurrent_writers(store: impl Fixture) {
    const WRITERS: usize = 8;
    const APPENDS: usize = 25;
    let store = Arc::new(store);
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let stream = new_stream();
            for version in 0..APPENDS as u64 {
                store
                    .append(append(stream, version, &[completed("s", 1)]))
                    .await
                    .unwrap();
            }
        }));
    }
    // Like a projector: keep following until everything arrived. An event
    // whose transaction commits late (or while another transaction anywhere
    // in the cluster is open) shows up later, never before its predecessors.
    let mut seen = Vec::new();
    let mut after = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while seen.len() < WRITERS * APPENDS && tokio::time::Instant::now() < deadline {
        let batch = store.read_all(after, 7).await.unwrap();
        if let Some(last) = batch.last() {
            after = last.position;
        }
        if batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        seen.extend(
            batch
                .into_iter()
                .map(|event| (event.stream_id, event.version, event.read_order())),
        );
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        seen.len(),
        WRITERS * APPENDS,
        "events were skipped or repeated"
    );
    assert!(
        seen.windows(2).all(|pair| pair[0].2 < pair[1].2),
        "the read order went backwards"
    );
    let distinct: HashSet<_> = seen
        .iter()
        .map(|(stream, version, _)| (*stream, *version))
        .collect();
    assert_eq!(distinct.len(), WRITERS * APPENDS);
}

async fn leases_due_timers_to_one_claimer_at_a_time(store: impl Fixture) {
    let stream = new_stream();
    let now = Utc::now();
    let mut request = append(stream, 0, &[completed("a", 1)]);
    for (attempt, offset) in [(1, -5), (2, -1), (3, 60)] {
        request.timers.push(ScheduledTimer {
            instance: stream,
            timer: Timer::StepRetry {
                step: StepId::from("a"),
                attempt,
            },
            due_at: now + chrono::Duration::seconds(offset),
        });
    }
    store.append(request).await.unwrap();
    assert_eq!(
        store
            .next_timer_due()
            .await
            .unwrap()
            .map(|due| due.timestamp()),
        Some((now - chrono::Duration::seconds(5)).timestamp())
    );

    let lease = std::time::Duration::from_secs(30);
    let claimed = store.claim_due_timers(now, lease, 10).await.unwrap();
    let attempts: Vec<_> = claimed
        .iter()
        .map(|due| match &due.timer {
            Timer::StepRetry { attempt, .. } => *attempt,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(attempts, [1, 2], "only due timers, earliest first");
    assert!(claimed.iter().all(|due| due.instance == stream));
    assert!(
        store
            .claim_due_timers(now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased timers are not claimed twice"
    );

    let after_lease = now + chrono::Duration::seconds(31);
    let reclaimed = store
        .claim_due_timers(after_lease, lease, 10)
        .await
        .unwrap();
    assert_eq!(reclaimed.len(), 2, "an expired lease frees the timers");
    store
        .complete_timers(&reclaimed.iter().map(|due| due.id).collect::<Vec<_>>())
        .await
        .unwrap();
    let later = now + chrono::Duration::seconds(120);
    let last = store.claim_due_timers(later, lease, 10).await.unwrap();
    assert_eq!(last.len(), 1);
    store.complete_timers(&[last[0].id]).await.unwrap();
    assert_eq!(store.next_timer_due().await.unwrap(), None);
}

async fn leases_outbox_messages_in_order(store: impl Fixture) {
    let mut appended_ids = Vec::new();
    for n in 0..3 {
        let mut request = append(new_stream(), 0, &[completed("a", 1)]);
        request.outbox.push(OutboxMessage {
            queue: format!("q{n}"),
            payload: json!({"n": n}),
            priority: n as u8,
        });
        appended_ids.extend(store.append(request).await.unwrap().outbox_ids);
    }
    assert_eq!(appended_ids.len(), 3);
    let lease = std::time::Duration::from_secs(30);
    // Appended rows are leased to their appender at first.
    let appended_lease = chrono::Duration::from_std(APPENDED_OUTBOX_LEASE).unwrap();
    let during = Utc::now() + appended_lease - chrono::Duration::seconds(1);
    assert!(
        store
            .claim_outbox(during, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let now = Utc::now() + appended_lease + chrono::Duration::seconds(1);
    let first = store.claim_outbox(now, lease, 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|m| m.message.queue.as_str())
            .collect::<Vec<_>>(),
        ["q0", "q1"]
    );
    assert_eq!(first[1].message.payload, json!({"n": 1}));
    assert_eq!(first[1].id, appended_ids[1]);
    assert_eq!(first[1].message.priority, 1);
    let second = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(second.len(), 1, "leased messages are skipped");
    store
        .complete_outbox(&first.iter().map(|m| m.id).collect::<Vec<_>>())
        .await
        .unwrap();
    let after_lease = now + chrono::Duration::seconds(31);
    let again = store.claim_outbox(after_lease, lease, 10).await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|m| m.message.queue.as_str())
            .collect::<Vec<_>>(),
        ["q2"]
    );
}

support::on_both_stores!(
    appends_and_loads_a_stream_in_order,
    refuses_an_append_at_the_wrong_version_and_writes_nothing,
    a_batch_append_lands_every_stream_but_one_that_moved_on,
    lets_exactly_one_of_two_racing_appends_win,
    reads_the_global_log_without_gaps_under_concurrent_writers,
    leases_due_timers_to_one_claimer_at_a_time,
    leases_outbox_messages_in_order,
);

/// Positions are drawn before the writing transaction gets its id, so a
/// transaction can hold a lower position than one that started after it
/// and commit last. A reader that went by position passed over its event
/// for good; in the log's read order (transaction, then position) it comes
/// after everything read before. PostgreSQL only: SQLite has one writer.
#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn an_event_of_a_lower_position_that_commits_last_is_not_passed_over(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    // The late writer draws its position first (drawing it does not hold
    // back readers: no transaction of it is running yet).
    let low: i64 =
        sqlx::query_scalar("select nextval(pg_get_serial_sequence('events', 'global_position'))")
            .fetch_one(&pool)
            .await
            .unwrap();
    // Another append takes a higher position and commits.
    let early = new_stream();
    store
        .append(append(early, 0, &[completed("a", 1)]))
        .await
        .unwrap();
    // Now the late one writes its event (and so gets an id after the
    // early one's) and stays open.
    let mut late = pool.begin().await.unwrap();
    let event = encode(&completed("b", 1), metadata()).unwrap();
    sqlx::query(
        "insert into events (global_position, stream_id, version, type, schema_version, data, metadata)
         overriding system value values ($1, $2, 1, $3, $4, $5, $6)",
    )
    .bind(low)
    .bind(new_stream().0)
    .bind(&event.event_type)
    .bind(event.schema_version as i32)
    .bind(&event.data)
    .bind(serde_json::to_value(&event.metadata).unwrap())
    .execute(&mut *late)
    .await
    .unwrap();

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let read_until_some = |after: i64| {
        let store = store.clone();
        async move {
            loop {
                let batch = store.read_all(after, 10).await.unwrap();
                if !batch.is_empty() || tokio::time::Instant::now() > deadline {
                    return batch;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    // The early event is readable (its transaction is older than the open
    // one); the reader takes it and moves on.
    let first = read_until_some(0).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].stream_id, early);
    assert!(first[0].position > low);
    late.commit().await.unwrap();

    let second = read_until_some(first[0].position).await;
    let positions: Vec<i64> = second.iter().map(|event| event.position).collect();
    assert_eq!(positions, vec![low], "the late event was passed over");
}
