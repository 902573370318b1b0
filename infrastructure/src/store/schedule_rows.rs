//! What the PostgreSQL and SQLite schedule adapters read and write alike.

use std::time::Duration;

use domain::schedule::OverlapPolicy;

/// A schedule row's columns, in the order the adapters read them.
pub(super) const COLUMNS: &str = "name, definition, version, input, cron, timezone, overlap,
    catchup_window_ms, paused, next_due, buffered_tick, last_instance, last_tick, missed,
    origin, created_at, lease_until";

/// A new schedule; nothing when the name is taken.
pub(super) const INSERT: &str = "on conflict (name) do nothing";

/// A schedule declared by a definition: its settings replaced, its round
/// state kept unless the cron or the time zone changed.
pub(super) const UPSERT: &str = "on conflict (name) do update set
                 definition = excluded.definition, version = excluded.version,
                 input = excluded.input, overlap = excluded.overlap,
                 catchup_window_ms = excluded.catchup_window_ms, origin = excluded.origin,
                 next_due = case when schedules.cron = excluded.cron
                                  and schedules.timezone = excluded.timezone
                                 then schedules.next_due else excluded.next_due end,
                 cron = excluded.cron, timezone = excluded.timezone";

/// A stored overlap policy.
pub(super) fn overlap_of(name: &str) -> Result<OverlapPolicy, String> {
    OverlapPolicy::parse(name).ok_or_else(|| format!("`{name}` is no overlap policy"))
}

/// A duration stored in milliseconds.
pub(super) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
