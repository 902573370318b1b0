//! Schedules, purely: cron in a time zone across daylight-saving changes,
//! the catch-up window, and the overlap policies.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use domain::schedule::{
    CronSchedule, MAX_TICKS_PER_ROUND, OverlapPolicy, RoundInput, ScheduleError, TickAction,
    plan_round,
};
use proptest::prelude::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn paris(expression: &str) -> CronSchedule {
    CronSchedule::parse(expression, "Europe/Paris").unwrap()
}

#[test]
fn a_cron_takes_five_or_six_fields_and_a_known_time_zone() {
    assert!(CronSchedule::parse("0 2 * * *", "UTC").is_ok());
    assert!(CronSchedule::parse("*/5 0 2 * * *", "Europe/Paris").is_ok());
    assert!(matches!(
        CronSchedule::parse("0 2 * *", "UTC"),
        Err(ScheduleError::FieldCount { fields: 4, .. })
    ));
    assert!(matches!(
        CronSchedule::parse("0 2 * * * * *", "UTC"),
        Err(ScheduleError::FieldCount { fields: 7, .. })
    ));
    assert!(matches!(
        CronSchedule::parse("61 2 * * *", "UTC"),
        Err(ScheduleError::InvalidCron { .. })
    ));
    assert_eq!(
        CronSchedule::parse("0 2 * * *", "Mars/Olympus").unwrap_err(),
        ScheduleError::UnknownTimeZone("Mars/Olympus".into())
    );
    assert!(matches!(
        CronSchedule::parse("0 0 31 2 *", "UTC"),
        Err(ScheduleError::NeverFires(_))
    ));
}

#[test]
fn six_fields_fire_every_second_they_name() {
    let every_second = CronSchedule::parse("* * * * * *", "UTC").unwrap();
    let from = utc("2027-01-01T00:00:00Z");
    let ticks = every_second.upcoming(from, 3);
    assert_eq!(
        ticks,
        [
            utc("2027-01-01T00:00:01Z"),
            utc("2027-01-01T00:00:02Z"),
            utc("2027-01-01T00:00:03Z")
        ]
    );
}

/// Paris springs forward on 2027-03-28 at 02:00 (to 03:00) and falls back
/// on 2027-10-31 at 03:00 (to 02:00).
#[test]
fn a_daily_time_follows_the_wall_clock_across_daylight_saving_changes() {
    let nine = paris("0 9 * * *");
    assert_eq!(
        nine.upcoming(utc("2027-03-27T00:00:00Z"), 2),
        [utc("2027-03-27T08:00:00Z"), utc("2027-03-28T07:00:00Z")]
    );
    assert_eq!(
        nine.upcoming(utc("2027-10-30T00:00:00Z"), 2),
        [utc("2027-10-30T07:00:00Z"), utc("2027-10-31T08:00:00Z")]
    );
}

#[test]
fn a_time_in_the_spring_gap_runs_once_right_after_it_and_one_in_the_repeated_hour_runs_once() {
    let half_past_two = paris("30 2 * * *");
    assert_eq!(
        half_past_two.upcoming(utc("2027-03-26T12:00:00Z"), 3),
        [
            utc("2027-03-27T01:30:00Z"), // 02:30 CET
            utc("2027-03-28T01:00:00Z"), // 02:30 does not exist: 03:00 CEST
            utc("2027-03-29T00:30:00Z"), // 02:30 CEST
        ]
    );
    assert_eq!(
        half_past_two.upcoming(utc("2027-10-30T12:00:00Z"), 2),
        [
            utc("2027-10-31T00:30:00Z"), // the first 02:30 (CEST), not the second
            utc("2027-11-01T01:30:00Z"), // 02:30 CET
        ]
    );
}

#[test]
fn an_hourly_schedule_fires_on_every_real_hour_of_a_23_and_a_25_hour_day() {
    let hourly = paris("0 * * * *");
    let spring_day_start = chrono_tz::Europe::Paris
        .with_ymd_and_hms(2027, 3, 28, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let spring_day_end = utc("2027-03-28T22:00:00Z"); // next local midnight
    let ticks = hourly.upcoming(spring_day_start - chrono::Duration::seconds(1), 30);
    let within = ticks.iter().filter(|tick| **tick < spring_day_end).count();
    assert_eq!(within, 23);
    let autumn_day_start = utc("2027-10-30T22:00:00Z");
    let autumn_day_end = utc("2027-10-31T23:00:00Z");
    let ticks = hourly.upcoming(autumn_day_start - chrono::Duration::seconds(1), 30);
    let within = ticks.iter().filter(|tick| **tick < autumn_day_end).count();
    assert_eq!(within, 25);
}

fn round(
    overlap: OverlapPolicy,
    previous_running: bool,
    buffered: Option<DateTime<Utc>>,
    next_due: &str,
    now: &str,
) -> domain::schedule::Round {
    let cron = CronSchedule::parse("* * * * *", "UTC").unwrap();
    plan_round(RoundInput {
        cron: &cron,
        overlap,
        catchup_window: Duration::from_secs(300),
        next_due: utc(next_due),
        buffered,
        previous_running,
        now: utc(now),
    })
}

#[test]
fn after_downtime_only_the_ticks_within_the_catch_up_window_fire() {
    let round = round(
        OverlapPolicy::Allow,
        false,
        None,
        "2027-01-01T10:00:00Z",
        "2027-01-01T11:00:30Z",
    );
    let fired: Vec<_> = round.ticks.iter().map(|(tick, _)| *tick).collect();
    assert_eq!(
        fired,
        [
            utc("2027-01-01T10:56:00Z"),
            utc("2027-01-01T10:57:00Z"),
            utc("2027-01-01T10:58:00Z"),
            utc("2027-01-01T10:59:00Z"),
            utc("2027-01-01T11:00:00Z"),
        ]
    );
    assert_eq!(round.missed, 56);
    assert_eq!(round.next_due, Some(utc("2027-01-01T11:01:00Z")));
}

/// Three ticks due while the previous workflow still runs.
#[test]
fn each_overlap_policy_decides_the_ticks_due_while_the_previous_runs() {
    use TickAction::*;
    let actions = |overlap| -> Vec<TickAction> {
        round(
            overlap,
            true,
            None,
            "2027-01-01T10:00:00Z",
            "2027-01-01T10:02:00Z",
        )
        .ticks
        .into_iter()
        .map(|(_, action)| action)
        .collect()
    };
    assert_eq!(actions(OverlapPolicy::Skip), [Skip, Skip, Skip]);
    assert_eq!(actions(OverlapPolicy::BufferOne), [Buffer, Skip, Skip]);
    assert_eq!(actions(OverlapPolicy::Allow), [Start, Start, Start]);
    assert_eq!(
        actions(OverlapPolicy::CancelPrevious),
        [
            CancelPreviousThenStart,
            CancelPreviousThenStart,
            CancelPreviousThenStart
        ]
    );
    // Nothing running: the first tick starts, and the others see it run.
    let first_free = round(
        OverlapPolicy::Skip,
        false,
        None,
        "2027-01-01T10:00:00Z",
        "2027-01-01T10:02:00Z",
    );
    let actions: Vec<_> = first_free.ticks.iter().map(|(_, action)| *action).collect();
    assert_eq!(actions, [Start, Skip, Skip]);
}

#[test]
fn a_buffered_tick_starts_once_the_previous_ended() {
    let buffered = Some(utc("2027-01-01T09:59:00Z"));
    let waiting = round(
        OverlapPolicy::BufferOne,
        true,
        buffered,
        "2027-01-01T10:00:00Z",
        "2027-01-01T10:00:10Z",
    );
    assert_eq!(
        waiting.ticks,
        [(utc("2027-01-01T10:00:00Z"), TickAction::Skip)]
    );
    assert_eq!(waiting.buffered, buffered);
    let ended = round(
        OverlapPolicy::BufferOne,
        false,
        buffered,
        "2027-01-01T10:00:00Z",
        "2027-01-01T10:00:10Z",
    );
    assert_eq!(
        ended.ticks,
        [
            (utc("2027-01-01T09:59:00Z"), TickAction::Start),
            (utc("2027-01-01T10:00:00Z"), TickAction::Buffer),
        ]
    );
    assert_eq!(ended.buffered, Some(utc("2027-01-01T10:00:00Z")));
}

#[test]
fn a_long_downtime_skips_to_the_catch_up_window_at_once() {
    let every_second = CronSchedule::parse("* * * * * *", "UTC").unwrap();
    let round = plan_round(RoundInput {
        cron: &every_second,
        overlap: OverlapPolicy::Allow,
        catchup_window: Duration::from_secs(10),
        next_due: utc("2027-01-01T00:00:00Z"),
        buffered: None,
        previous_running: false,
        now: utc("2027-01-08T00:00:00Z"),
    });
    assert_eq!(round.missed, 10_000, "counted up to the cap");
    assert_eq!(round.ticks.first().unwrap().0, utc("2027-01-07T23:59:50Z"));
    assert_eq!(round.ticks.len(), 11);
}

fn policy() -> impl Strategy<Value = OverlapPolicy> {
    prop_oneof![
        Just(OverlapPolicy::Skip),
        Just(OverlapPolicy::BufferOne),
        Just(OverlapPolicy::Allow),
        Just(OverlapPolicy::CancelPrevious),
    ]
}

proptest! {
    /// Every tick from `next_due` to `now` is handled once: fired, skipped,
    /// buffered or missed; in order; and the next round starts after them.
    #[test]
    fn every_due_tick_is_handled_exactly_once(
        expression in prop_oneof![Just("* * * * * *"), Just("*/7 * * * * *"), Just("0 */5 * * * *"), Just("30 2 * * *")],
        overlap in policy(),
        previous_running: bool,
        start in 0i64..400_000_000,
        lateness in 0i64..3_000,
        window in 0u64..5_000,
    ) {
        let cron = CronSchedule::parse(expression, "Europe/Paris").unwrap();
        let from = Utc.timestamp_opt(1_790_000_000 + start, 0).unwrap();
        let next_due = cron.first_from(from).unwrap();
        let now = next_due + chrono::Duration::seconds(lateness);
        let round = plan_round(RoundInput {
            cron: &cron, overlap, catchup_window: Duration::from_secs(window),
            next_due, buffered: None, previous_running, now,
        });
        let mut expected = Vec::new();
        let mut cursor = Some(next_due);
        while let Some(tick) = cursor.filter(|tick| *tick <= now) {
            expected.push(tick);
            cursor = cron.next_after(tick);
        }
        let handled: Vec<_> = round.ticks.iter().map(|(tick, _)| *tick).collect();
        let missed = usize::try_from(round.missed).unwrap();
        if handled.len() < MAX_TICKS_PER_ROUND {
            prop_assert_eq!(missed + handled.len(), expected.len());
            prop_assert_eq!(&expected[missed..], &handled[..]);
            prop_assert_eq!(round.next_due, cursor);
        } else {
            prop_assert_eq!(&expected[missed..missed + handled.len()], &handled[..]);
        }
        let starts = round.ticks.iter().filter(|(_, action)| *action != TickAction::Skip && *action != TickAction::Buffer).count();
        if overlap != OverlapPolicy::Allow && overlap != OverlapPolicy::CancelPrevious {
            prop_assert!(starts <= 1, "{:?} started {} workflows in one round", overlap, starts);
        }
        if previous_running && overlap == OverlapPolicy::Skip {
            prop_assert_eq!(starts, 0);
        }
    }
}

#[test]
fn a_definition_declares_schedules_checked_at_their_lines() {
    let good = domain::parse_workflow(
        "name: nightly\nversion: 1\ninput:\n  schema: { type: object, required: [full] }\nsteps:\n  a: { type: noop }\nschedules:\n  at-two:\n    cron: \"0 2 * * *\"\n    timezone: Europe/Paris\n    input: { full: true }\n    overlap: buffer_one\n    catchup_window: 10m\n",
    )
    .unwrap();
    let declared = &good.schedules[0];
    assert_eq!(declared.name, "at-two");
    assert_eq!(declared.timezone, "Europe/Paris");
    assert_eq!(declared.overlap, OverlapPolicy::BufferOne);
    assert_eq!(declared.catchup_window, Some(Duration::from_secs(600)));

    let bad = domain::parse_workflow(
        "name: nightly\nversion: 1\ninput:\n  schema: { type: object, required: [full] }\nsteps:\n  a: { type: noop }\nschedules:\n  wrong-cron: { cron: \"0 2 * *\" }\n  wrong-zone: { cron: \"0 2 * * *\", timezone: Mars/Base, input: { full: true } }\n  wrong-input: { cron: \"0 2 * * *\", input: { half: true } }\n  wrong-overlap: { cron: \"0 2 * * *\", overlap: sometimes, input: { full: true } }\n",
    )
    .unwrap_err();
    let rendered = bad.render("nightly.yaml");
    for expected in [
        "nightly.yaml:8:",
        "has 4 fields",
        "nightly.yaml:9:",
        "Mars/Base",
        "nightly.yaml:10:",
        "full",
        "nightly.yaml:11:",
        "sometimes",
    ] {
        assert!(rendered.contains(expected), "{expected} in:\n{rendered}");
    }
}
