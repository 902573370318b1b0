//! One round of a schedule: the ticks that came due since the last round,
//! those older than the catch-up window dropped as missed, and what the
//! overlap policy makes of each of the others.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{CronSchedule, OverlapPolicy, TickAction};

/// The smallest catch-up window: a tick a poller sees a little late (a busy
/// node, a lease taken over) still fires.
pub const MIN_CATCHUP_WINDOW: Duration = Duration::from_secs(10);
/// The most ticks one round handles; the rest wait for the next round.
pub const MAX_TICKS_PER_ROUND: usize = 100;
/// Missed ticks are counted up to this many, then skipped over at once.
const MISSED_COUNTED: u64 = 10_000;

/// What a round starts from.
#[derive(Clone, Copy, Debug)]
pub struct RoundInput<'a> {
    pub cron: &'a CronSchedule,
    pub overlap: OverlapPolicy,
    pub catchup_window: Duration,
    /// The first tick not handled yet.
    pub next_due: DateTime<Utc>,
    /// A tick waiting for the previous workflow to end (`buffer_one`).
    pub buffered: Option<DateTime<Utc>>,
    /// Whether the schedule's last workflow has not ended.
    pub previous_running: bool,
    pub now: DateTime<Utc>,
}

/// What a round does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// Ticks and what each does, in order. A buffered tick whose previous
    /// workflow ended comes first, as `Start`.
    pub ticks: Vec<(DateTime<Utc>, TickAction)>,
    /// Ticks older than the catch-up window, dropped (at least this many).
    pub missed: u64,
    /// The tick left waiting after the round.
    pub buffered: Option<DateTime<Utc>>,
    /// The first tick the round did not handle: the next round's `next_due`.
    pub next_due: Option<DateTime<Utc>>,
}

pub fn plan_round(input: RoundInput<'_>) -> Round {
    let RoundInput {
        cron, overlap, now, ..
    } = input;
    let mut running = input.previous_running;
    let mut buffered = input.buffered;
    let mut ticks = Vec::new();
    if let Some(tick) = buffered.filter(|_| !running) {
        ticks.push((tick, TickAction::Start));
        buffered = None;
        running = true;
    }
    let window = chrono::Duration::from_std(input.catchup_window.max(MIN_CATCHUP_WINDOW))
        .unwrap_or(chrono::Duration::MAX);
    let oldest = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let (mut cursor, missed) = skip_missed(cron, input.next_due, oldest);
    while let Some(tick) = cursor.filter(|tick| *tick <= now) {
        if ticks.len() >= MAX_TICKS_PER_ROUND {
            break;
        }
        let action = overlap.on_tick(running, buffered.is_some());
        match action {
            TickAction::Start | TickAction::CancelPreviousThenStart => running = true,
            TickAction::Buffer => buffered = Some(tick),
            TickAction::Skip => {}
        }
        ticks.push((tick, action));
        cursor = cron.next_after(tick);
    }
    Round {
        ticks,
        missed,
        buffered,
        next_due: cursor,
    }
}

/// The first tick from `due` on that is not older than `oldest`, and how
/// many were older.
fn skip_missed(
    cron: &CronSchedule,
    due: DateTime<Utc>,
    oldest: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, u64) {
    let mut cursor = Some(due);
    let mut missed = 0;
    while let Some(tick) = cursor.filter(|tick| *tick < oldest) {
        if missed == MISSED_COUNTED {
            return (cron.first_from(oldest), missed);
        }
        missed += 1;
        cursor = cron.next_after(tick);
    }
    (cursor, missed)
}
