//! The schedules a definition declares: names, crons, time zones, windows,
//! and inputs that fit the input schema.

use crate::definition::model::{DeclaredSchedule, InputSchema};
use crate::definition::spec::SchedulesSpec;
use crate::schedule::CronSchedule;

use super::Builder;

impl Builder<'_> {
    pub(super) fn schedules(
        &mut self,
        spec: &SchedulesSpec,
        input_schema: Option<&InputSchema>,
    ) -> Vec<DeclaredSchedule> {
        let mut schedules = Vec::new();
        for (name, schedule) in &spec.0 {
            let valid_name = name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if name.value.is_empty() || !valid_name {
                self.problem(
                    name.at,
                    format!(
                        "schedule `{}`: a schedule name is letters, digits, `-`, `_` or `.`",
                        name.value
                    ),
                );
            }
            let timezone = schedule
                .timezone
                .as_ref()
                .map_or("UTC", |timezone| timezone.value.as_str());
            let at = schedule
                .timezone
                .as_ref()
                .map_or(schedule.cron.at, |tz| tz.at);
            if let Err(error) = CronSchedule::parse(&schedule.cron.value, timezone) {
                let at = match error {
                    crate::schedule::ScheduleError::UnknownTimeZone(_) => at,
                    _ => schedule.cron.at,
                };
                self.problem(at, format!("schedule `{}`: {error}", name.value));
                continue;
            }
            let input = schedule
                .input
                .as_ref()
                .map_or(serde_json::json!({}), |input| input.value.clone());
            if let Some(schema) = input_schema {
                for problem in schema.problems(&input) {
                    let at = schedule.input.as_ref().map_or(name.at, |input| input.at);
                    self.problem(
                        at,
                        format!("schedule `{}`: the input: {problem}", name.value),
                    );
                }
            }
            schedules.push(DeclaredSchedule {
                name: name.value.clone(),
                cron: schedule.cron.value.clone(),
                timezone: timezone.to_owned(),
                input,
                overlap: schedule
                    .overlap
                    .as_ref()
                    .map(|o| o.value)
                    .unwrap_or_default(),
                catchup_window: schedule.catchup_window.as_ref().map(|w| w.value.0),
            });
        }
        schedules
    }
}
