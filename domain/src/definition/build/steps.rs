//! Checks of each step: its kind, retry policy, compensation and timeouts.

use super::super::model::*;
use super::super::spec::*;
use super::{Builder, Defaults, Reach, is_identifier};
use crate::expression::Template;
use crate::ids::StepId;

impl Builder<'_> {
    pub(super) fn retry(&mut self, spec: Option<&RetrySpec>, base: RetryPolicy) -> RetryPolicy {
        let Some(spec) = spec else { return base };
        let policy = RetryPolicy {
            max_attempts: spec
                .max_attempts
                .as_ref()
                .map_or(base.max_attempts, |m| m.value),
            backoff: spec.backoff.unwrap_or(base.backoff),
            initial: spec.initial.as_ref().map_or(base.initial, |d| d.value.0),
            max: spec.max.as_ref().map_or(base.max, |d| d.value.0),
            multiplier: spec
                .multiplier
                .as_ref()
                .map_or(base.multiplier, |m| m.value),
            jitter: spec.jitter.unwrap_or(base.jitter),
        };
        if let Some(max_attempts) = &spec.max_attempts
            && !(1..=1000).contains(&max_attempts.value)
        {
            self.problem(max_attempts.at, "`max_attempts` must be from 1 to 1000");
        }
        if let Some(multiplier) = &spec.multiplier
            && !(1.0..=100.0).contains(&multiplier.value)
        {
            self.problem(multiplier.at, "`multiplier` must be from 1 to 100");
        }
        if policy.max < policy.initial
            && let Some(max) = &spec.max
        {
            self.problem(max.at, "`max` must not be shorter than `initial`");
        }
        policy
    }

    pub(super) fn step(
        &mut self,
        index: usize,
        id: &Located<String>,
        spec: &StepSpec,
        needs: Vec<usize>,
        defaults: &Defaults,
    ) -> Option<StepDefinition> {
        let common = &spec.common;
        let when = common.when.as_ref().and_then(|when| {
            self.expression(&when.value, when.at, Reach::Upstream(index), "`when`")
        });
        let retry = self.retry(common.retry.as_ref(), defaults.retry);
        let compensate = common
            .compensate
            .as_ref()
            .and_then(|compensate| self.compensation(index, compensate, defaults));
        let priority = common.priority.as_ref().map_or(0, |priority| {
            if priority.value > 9 {
                self.problem(priority.at, "`priority` must be from 0 to 9");
            }
            priority.value
        });
        if common.join == Some(Join::Any) && needs.is_empty() {
            self.problem(
                spec.at,
                format!("step `{}` has `join: any` but no `needs` to join", id.value),
            );
        }
        let kind = spec.kind.as_ref().and_then(|kind| self.kind(index, kind));
        if let (Some(kind), Some(_)) = (&kind, &common.compensate)
            && !kind.is_dispatched()
        {
            self.problem(
                spec.at,
                format!(
                    "step `{}` is a `{}` step, which has no effect to compensate",
                    id.value,
                    kind.name()
                ),
            );
        }
        if let (Some(StepKind::Approval { .. } | StepKind::Signal { .. }), Some(retry)) =
            (&kind, &common.retry)
        {
            let at = retry.max_attempts.as_ref().map_or(spec.at, |m| m.at);
            let what = kind.as_ref().map_or("", StepKind::name);
            self.problem(at, format!("`{what}` steps run once; they take no `retry`"));
        }
        let kind = kind?;
        // `defaults.timeout` bounds worker attempts; an approval or a wait
        // has a deadline only when it says so itself.
        let default_timeout = defaults.timeout.filter(|_| kind.is_dispatched());
        Some(StepDefinition {
            id: StepId::new(id.value.as_str()),
            description: common.description.clone(),
            kind,
            needs,
            join: common.join.unwrap_or_default(),
            when,
            retry,
            timeout: common
                .timeout
                .as_ref()
                .map(|t| t.value.0)
                .or(default_timeout),
            heartbeat_timeout: common
                .heartbeat_timeout
                .as_ref()
                .map(|t| t.value.0)
                .or(defaults.heartbeat_timeout),
            on_error: common.on_error.unwrap_or(defaults.on_error),
            compensate,
            priority,
        })
    }

    pub(super) fn kind(&mut self, index: usize, kind: &Located<StepKindSpec>) -> Option<StepKind> {
        let reach = Reach::Upstream(index);
        Some(match &kind.value {
            StepKindSpec::Task(task) => {
                let (queue, input) = self.task(task, reach)?;
                StepKind::Task { queue, input }
            }
            StepKindSpec::Http(http) => StepKind::Http {
                request: self.request(http, reach)?,
            },
            StepKindSpec::Approval(approval) => {
                let approvers: Vec<String> = approval
                    .approvers
                    .iter()
                    .flatten()
                    .map(|approver| {
                        let valid = approver.value.split_once(':').is_some_and(|(kind, name)| {
                            (kind == "role" || kind == "user") && !name.is_empty()
                        });
                        if !valid {
                            self.problem(
                                approver.at,
                                format!(
                                    "approver `{}` must be `role:NAME` or `user:NAME`",
                                    approver.value
                                ),
                            );
                        }
                        approver.value.clone()
                    })
                    .collect();
                StepKind::Approval {
                    approvers,
                    on_timeout: approval.on_timeout.unwrap_or_default(),
                }
            }
            StepKindSpec::Wait(wait) => match (&wait.duration, &wait.until) {
                (Some(duration), None) => StepKind::Wait(WaitFor::Duration(duration.value.0)),
                (None, Some(until)) => {
                    if let Some(text) = until.0.as_str()
                        && !text.contains("${")
                        && chrono::DateTime::parse_from_rfc3339(text).is_err()
                    {
                        self.problem(until.0.at, format!("`until`: `{text}` is not an RFC 3339 time such as 2026-01-31T12:00:00Z"));
                    }
                    StepKind::Wait(WaitFor::Until(self.template(&until.0, reach, "`until`")?))
                }
                _ => {
                    self.problem(
                        kind.at,
                        "a `wait` step needs exactly one of `duration` and `until`",
                    );
                    return None;
                }
            },
            StepKindSpec::Noop(noop) => StepKind::Noop {
                output: match &noop.output {
                    Some(output) => Some(self.template(&output.0, reach, "`output`")?),
                    None => None,
                },
                duration: noop.duration.as_ref().map(|d| d.value.0),
            },
            StepKindSpec::Fail(fail) => StepKind::Fail {
                message: self.template(&fail.message.0, reach, "`message`")?,
            },
            StepKindSpec::Signal(signal) => {
                let name = &signal.name;
                if !is_identifier(&name.value, &['.', '-']) || name.value.starts_with('_') {
                    self.problem(
                        name.at,
                        format!("signal `{}` must start with a letter or digit and hold only letters, digits, `.`, `_` or `-`", name.value),
                    );
                }
                StepKind::Signal {
                    name: name.value.clone(),
                    schema: match &signal.schema {
                        Some(schema) => Some(self.json_schema(schema, "`schema`")?),
                        None => None,
                    },
                    on_timeout: signal.on_timeout.unwrap_or_default(),
                }
            }
        })
    }

    pub(super) fn task(&mut self, task: &TaskSpec, reach: Reach) -> Option<(String, Template)> {
        let queue = &task.queue.value;
        if !is_identifier(queue, &['.', '-']) || queue.starts_with('_') {
            self.problem(
                task.queue.at,
                format!("queue `{queue}` must start with a letter or digit and hold only letters, digits, `.`, `_` or `-`"),
            );
        } else if queue == HTTP_QUEUE {
            self.problem(
                task.queue.at,
                format!("queue `{HTTP_QUEUE}` is the built-in HTTP executor's; use an `http` step or another queue"),
            );
        }
        let input = match &task.input {
            Some(input) => self.template(&input.0, reach, "`input`")?,
            None => Template::literal(serde_json::Value::Object(Default::default())),
        };
        Some((task.queue.value.clone(), input))
    }

    pub(super) fn request(&mut self, http: &HttpSpec, reach: Reach) -> Option<Template> {
        let request = &http.request.value;
        if let Some(method) = &request.method {
            let valid = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
            if !valid.contains(&method.value.as_str()) {
                self.problem(
                    method.at,
                    format!(
                        "unknown HTTP method `{}`; expected one of: {}",
                        method.value,
                        valid.join(", ")
                    ),
                );
            }
        }
        if let Some(url) = request.url.0.as_str()
            && !url.contains("${")
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            self.problem(
                request.url.0.at,
                format!("`url`: `{url}` is not an http:// or https:// URL"),
            );
        }
        self.template(&request.whole.0, reach, "`request`")
    }

    pub(super) fn compensation(
        &mut self,
        index: usize,
        spec: &CompensationSpec,
        defaults: &Defaults,
    ) -> Option<Compensation> {
        let reach = Reach::SelfAndUpstream(index);
        let action = match spec.kind.as_ref()? {
            CompensationKindSpec::Task(task) => {
                let (queue, input) = self.task(task, reach)?;
                CompensationAction::Task { queue, input }
            }
            CompensationKindSpec::Http(http) => CompensationAction::Http {
                request: self.request(http, reach)?,
            },
        };
        Some(Compensation {
            action,
            retry: self.retry(spec.retry.as_ref(), defaults.compensation_retry),
            timeout: spec.timeout.as_ref().map(|t| t.value.0),
        })
    }
}
