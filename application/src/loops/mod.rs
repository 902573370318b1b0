//! The background loops of an engine node and of workers. Each exposes
//! `run_once()` so tests drive it step by step; `run()` is a thin forever-loop
//! that sleeps until woken (a notification, the next due time) with a
//! bounded fallback, never spinning.

mod outbox_relay;
mod result_consumer;
mod schedule_poller;
mod timer_poller;
mod worker;

pub use outbox_relay::OutboxRelay;
pub use result_consumer::{Handled, ResultConsumer};
pub use schedule_poller::SchedulePoller;
pub use timer_poller::TimerPoller;
pub use worker::{Executor, Worker, task_span, traceparent_for_call};

use std::time::Duration;

/// The longest a loop sleeps without a wake-up. Wake-ups come from this
/// process's appends and, on PostgreSQL, from every node's (LISTEN/NOTIFY);
/// this bound only covers a lost notification or an expired lease.
pub(crate) const FALLBACK_WAKE: Duration = Duration::from_secs(2);
