//! Schedules: a cron expression in a time zone, and what each round of the
//! schedule poller does with the ticks that came due (catch-up window,
//! overlap policy). Pure: the time comes in as an argument.

mod cron;
mod overlap;
mod round;

pub use cron::{CronSchedule, ScheduleError, parse_duration};
pub use overlap::{OverlapPolicy, TickAction};
pub use round::{MAX_TICKS_PER_ROUND, MIN_CATCHUP_WINDOW, Round, RoundInput, plan_round};
