//! Reads the [`Node`] tree into spec types, collecting every problem instead of
//! stopping at the first: unknown keys (with the valid ones listed), wrong
//! types, missing keys, malformed durations.

use super::model::{ApprovalTimeout, Backoff, Join, OnError, SignalTimeout};
use super::source::{Position, Problem};
use super::spec::*;
use super::yaml::{Key, Node, NodeValue};
use crate::schedule::OverlapPolicy;

#[derive(Debug, Default)]
pub(crate) struct Reader {
    pub problems: Vec<Problem>,
}

impl Reader {
    pub fn problem(&mut self, at: Position, message: impl Into<String>) {
        self.problems.push(Problem::new(at, message));
    }

    pub(crate) fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<Fields<'n>> {
        match &node.value {
            NodeValue::Mapping(entries) => Some(Fields {
                entries,
                used: vec![false; entries.len()],
            }),
            _ => {
                self.problem(
                    node.at,
                    format!("{what} must be a mapping, not {}", node.kind()),
                );
                None
            }
        }
    }
}

/// The keys of one mapping, tracking which were read.
pub(crate) struct Fields<'n> {
    entries: &'n [(Key, Node)],
    used: Vec<bool>,
}

impl<'n> Fields<'n> {
    pub(crate) fn get(&mut self, key: &str) -> Option<&'n Node> {
        let index = self.entries.iter().position(|(k, _)| k.name == key)?;
        self.used[index] = true;
        Some(&self.entries[index].1)
    }

    /// Whether the mapping has `key`, without marking it read.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(name, _)| name.name == key)
    }

    pub(crate) fn optional<T: Read>(&mut self, key: &str, reader: &mut Reader) -> Option<T> {
        let node = self.get(key)?;
        T::read(node, key, reader)
    }

    pub(crate) fn required<T: Read>(
        &mut self,
        key: &str,
        at: Position,
        what: &str,
        reader: &mut Reader,
    ) -> Option<T> {
        match self.get(key) {
            Some(node) => T::read(node, key, reader),
            None => {
                reader.problem(at, format!("{what} needs `{key}`"));
                None
            }
        }
    }

    /// Reports every key that was not read.
    pub(crate) fn finish(self, valid: &[&str], what: &str, reader: &mut Reader) {
        for ((key, _), used) in self.entries.iter().zip(self.used) {
            if !used {
                reader.problem(key.at, unknown_key(&key.name, valid, what));
            }
        }
    }
}

fn unknown_key(key: &str, valid: &[&str], what: &str) -> String {
    let suggestion = valid
        .iter()
        .map(|candidate| (edit_distance(key, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, candidate)| format!(" (did you mean `{candidate}`?)"))
        .unwrap_or_default();
    format!(
        "unknown key `{key}` in {what}{suggestion}; expected one of: {}",
        valid.join(", ")
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// A spec value read from a node; problems go to the reader.
pub(crate) trait Read: Sized {
    fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self>;
}

fn wrong_type(node: &Node, key: &str, expected: &str, reader: &mut Reader) {
    reader.problem(
        node.at,
        format!("`{key}` must be {expected}, not {}", node.kind()),
    );
}

impl Read for String {
    fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
        match &node.value {
            NodeValue::String(text) => Some(text.clone()),
            _ => {
                wrong_type(node, key, "a string", reader);
                None
            }
        }
    }
}

impl Read for bool {
    fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
        match node.value {
            NodeValue::Bool(flag) => Some(flag),
            _ => {
                wrong_type(node, key, "true or false", reader);
                None
            }
        }
    }
}

impl Read for f64 {
    fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
        match &node.value {
            NodeValue::Number(number) => number.as_f64(),
            _ => {
                wrong_type(node, key, "a number", reader);
                None
            }
        }
    }
}

macro_rules! read_integer {
    ($($type:ty),*) => {$(
        impl Read for $type {
            fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
                let parsed = match &node.value {
                    NodeValue::Number(number) => number.as_u64().and_then(|n| <$type>::try_from(n).ok()),
                    _ => None,
                };
                if parsed.is_none() {
                    reader.problem(node.at, format!(
                        "`{key}` must be a whole number from 0 to {}", <$type>::MAX
                    ));
                }
                parsed
            }
        }
    )*};
}
read_integer!(u8, u32);

impl Read for serde_json::Value {
    fn read(node: &Node, _: &str, _: &mut Reader) -> Option<Self> {
        Some(node.to_json())
    }
}

impl Read for TemplateSpec {
    fn read(node: &Node, _: &str, _: &mut Reader) -> Option<Self> {
        Some(TemplateSpec(node.clone()))
    }
}

impl Read for DurationSpec {
    fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
        let text = String::read(node, key, reader)?;
        match humantime::parse_duration(text.trim()) {
            Ok(duration) => Some(DurationSpec(duration)),
            Err(error) => {
                reader.problem(
                    node.at,
                    format!(
                        "`{key}`: `{text}` is not a duration ({error}); write e.g. 30s, 5m, 24h"
                    ),
                );
                None
            }
        }
    }
}

impl<T: Read> Read for Located<T> {
    fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
        T::read(node, key, reader).map(|value| Located { at: node.at, value })
    }
}

impl<T: Read> Read for Vec<T> {
    fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
        match &node.value {
            NodeValue::Sequence(items) => {
                let read: Vec<Option<T>> = items
                    .iter()
                    .map(|item| T::read(item, key, reader))
                    .collect();
                read.into_iter().collect()
            }
            _ => {
                wrong_type(node, key, "a list", reader);
                None
            }
        }
    }
}

macro_rules! read_keyword {
    ($type:ty { $($word:literal => $variant:expr),* $(,)? }) => {
        impl Read for $type {
            fn read(node: &Node, key: &str, reader: &mut Reader) -> Option<Self> {
                let text = String::read(node, key, reader)?;
                match text.as_str() {
                    $($word => Some($variant),)*
                    other => {
                        reader.problem(node.at, format!(
                            "`{key}`: unknown value `{other}`; expected one of: {}",
                            [$($word),*].join(", ")
                        ));
                        None
                    }
                }
            }
        }
    };
}
read_keyword!(Join { "all" => Join::All, "any" => Join::Any });
read_keyword!(OnError { "compensate" => OnError::Compensate, "continue" => OnError::Continue, "fail" => OnError::Fail });
read_keyword!(Backoff { "fixed" => Backoff::Fixed, "linear" => Backoff::Linear, "exponential" => Backoff::Exponential });
read_keyword!(OverlapPolicy { "skip" => OverlapPolicy::Skip, "buffer_one" => OverlapPolicy::BufferOne, "allow" => OverlapPolicy::Allow, "cancel_previous" => OverlapPolicy::CancelPrevious });
read_keyword!(ApprovalTimeout { "reject" => ApprovalTimeout::Reject, "approve" => ApprovalTimeout::Approve });
read_keyword!(SignalTimeout { "fail" => SignalTimeout::Fail, "skip" => SignalTimeout::Skip });

/// Reads a whole workflow file. Returns `None` only when the top is not a mapping.
pub(super) fn read_workflow(node: &Node, reader: &mut Reader) -> Option<WorkflowSpec> {
    let mut fields = reader.mapping(node, "a workflow")?;
    let at = node.at;
    let name = fields.required("name", at, "a workflow", reader);
    let version = fields.required("version", at, "a workflow", reader);
    let description = fields.optional("description", reader);
    let input = fields
        .get("input")
        .and_then(|node| read_input(node, reader));
    let defaults = fields
        .get("defaults")
        .and_then(|node| read_defaults(node, reader));
    let timeout = fields.optional("timeout", reader);
    let sla = fields.optional("sla", reader);
    let steps = match fields.get("steps") {
        Some(node) => read_steps(node, reader),
        None => {
            reader.problem(at, "a workflow needs `steps`");
            None
        }
    };
    let output = fields.optional("output", reader);
    let schedules = fields
        .get("schedules")
        .and_then(|node| read_schedules(node, reader));
    fields.finish(
        &[
            "name",
            "version",
            "description",
            "input",
            "defaults",
            "timeout",
            "sla",
            "steps",
            "output",
            "schedules",
        ],
        "the workflow",
        reader,
    );
    Some(WorkflowSpec {
        name: name.unwrap_or(Located {
            at,
            value: String::new(),
        }),
        version: version.unwrap_or(Located { at, value: 0 }),
        description,
        input,
        defaults,
        timeout,
        sla,
        steps: steps.unwrap_or(Located {
            at,
            value: StepsSpec::default(),
        }),
        output,
        schedules,
    })
}

fn read_schedules(node: &Node, reader: &mut Reader) -> Option<Located<SchedulesSpec>> {
    let NodeValue::Mapping(entries) = &node.value else {
        reader.problem(
            node.at,
            format!(
                "`schedules` must be a mapping of schedule name to schedule, not {}",
                node.kind()
            ),
        );
        return None;
    };
    let schedules = entries
        .iter()
        .filter_map(|(key, schedule)| {
            let spec = read_schedule(schedule, reader)?;
            let name = Located {
                at: key.at,
                value: key.name.clone(),
            };
            Some((name, spec))
        })
        .collect();
    Some(Located {
        at: node.at,
        value: SchedulesSpec(schedules),
    })
}

fn read_schedule(node: &Node, reader: &mut Reader) -> Option<ScheduleSpec> {
    let mut fields = reader.mapping(node, "a schedule")?;
    let cron = fields.required("cron", node.at, "a schedule", reader);
    let timezone = fields.optional("timezone", reader);
    let input = fields.optional("input", reader);
    let overlap = fields.optional("overlap", reader);
    let catchup_window = fields.optional("catchup_window", reader);
    fields.finish(
        &["cron", "timezone", "input", "overlap", "catchup_window"],
        "a schedule",
        reader,
    );
    Some(ScheduleSpec {
        cron: cron?,
        timezone,
        input,
        overlap,
        catchup_window,
    })
}

fn read_input(node: &Node, reader: &mut Reader) -> Option<InputSpec> {
    let mut fields = reader.mapping(node, "`input`")?;
    let schema = fields.required("schema", node.at, "`input`", reader);
    fields.finish(&["schema"], "`input`", reader);
    Some(InputSpec { schema: schema? })
}

fn read_defaults(node: &Node, reader: &mut Reader) -> Option<DefaultsSpec> {
    let mut fields = reader.mapping(node, "`defaults`")?;
    let defaults = DefaultsSpec {
        retry: fields
            .get("retry")
            .and_then(|node| read_retry(node, reader)),
        timeout: fields.optional("timeout", reader),
        heartbeat_timeout: fields.optional("heartbeat_timeout", reader),
        on_error: fields.optional("on_error", reader),
        compensation_retry: fields
            .get("compensation_retry")
            .and_then(|node| read_retry(node, reader)),
    };
    fields.finish(
        &[
            "retry",
            "timeout",
            "heartbeat_timeout",
            "on_error",
            "compensation_retry",
        ],
        "`defaults`",
        reader,
    );
    Some(defaults)
}

fn read_retry(node: &Node, reader: &mut Reader) -> Option<RetrySpec> {
    let mut fields = reader.mapping(node, "`retry`")?;
    let retry = RetrySpec {
        max_attempts: fields.optional("max_attempts", reader),
        backoff: fields.optional("backoff", reader),
        initial: fields.optional("initial", reader),
        max: fields.optional("max", reader),
        multiplier: fields.optional("multiplier", reader),
        jitter: fields.optional("jitter", reader),
    };
    fields.finish(
        &[
            "max_attempts",
            "backoff",
            "initial",
            "max",
            "multiplier",
            "jitter",
        ],
        "`retry`",
        reader,
    );
    Some(retry)
}

fn read_steps(node: &Node, reader: &mut Reader) -> Option<Located<StepsSpec>> {
    let NodeValue::Mapping(entries) = &node.value else {
        reader.problem(
            node.at,
            format!(
                "`steps` must be a mapping of step id to step, not {}",
                node.kind()
            ),
        );
        return None;
    };
    if entries.is_empty() {
        reader.problem(node.at, "a workflow needs at least one step");
    }
    let steps = entries
        .iter()
        .filter_map(|(key, step)| {
            let spec = read_step(key, step, reader)?;
            Some((
                Located {
                    at: key.at,
                    value: key.name.clone(),
                },
                spec,
            ))
        })
        .collect();
    Some(Located {
        at: node.at,
        value: StepsSpec(steps),
    })
}

fn read_step(key: &Key, node: &Node, reader: &mut Reader) -> Option<StepSpec> {
    let what = format!("step `{}`", key.name);
    let mut fields = reader.mapping(node, &what)?;
    let type_node = fields.get("type");
    let type_name = match type_node {
        Some(type_node) => String::read(type_node, "type", reader),
        None => {
            reader.problem(
                key.at,
                format!("{what} needs `type` (one of: {})", type_names()),
            );
            None
        }
    };
    let own_keys = type_name
        .as_deref()
        .and_then(|name| STEP_TYPES.iter().find(|(type_name, _)| *type_name == name));
    if let (Some(name), None, Some(type_node)) = (&type_name, own_keys, type_node) {
        reader.problem(
            type_node.at,
            format!(
                "unknown step type `{name}`; expected one of: {}",
                type_names()
            ),
        );
    }
    let common = CommonStepSpec {
        description: fields.optional("description", reader),
        needs: fields.optional("needs", reader),
        when: fields.optional("when", reader),
        join: fields.optional("join", reader),
        retry: fields
            .get("retry")
            .and_then(|node| read_retry(node, reader)),
        timeout: fields.optional("timeout", reader),
        heartbeat_timeout: fields.optional("heartbeat_timeout", reader),
        on_error: fields.optional("on_error", reader),
        compensate: fields
            .get("compensate")
            .and_then(|node| read_compensation(node, reader)),
        priority: fields.optional("priority", reader),
    };
    let kind = own_keys.and_then(|(name, _)| {
        let at = type_node.map_or(key.at, |node| node.at);
        read_kind(name, &mut fields, at, &what, reader).map(|value| Located { at, value })
    });
    // Only check unknown keys against a known type, or every kind key would be reported.
    if let Some((name, own)) = own_keys {
        let valid: Vec<&str> = COMMON_STEP_KEYS.iter().chain(own.iter()).copied().collect();
        fields.finish(&valid, &format!("{what} (type {name})"), reader);
    }
    Some(StepSpec {
        at: key.at,
        common,
        kind,
    })
}

fn type_names() -> String {
    STEP_TYPES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_kind(
    name: &str,
    fields: &mut Fields<'_>,
    at: Position,
    what: &str,
    reader: &mut Reader,
) -> Option<StepKindSpec> {
    Some(match name {
        "task" => StepKindSpec::Task(read_task(fields, at, what, reader)?),
        "http" => StepKindSpec::Http(read_http(fields, at, what, reader)?),
        "approval" => StepKindSpec::Approval(ApprovalSpec {
            approvers: fields.optional("approvers", reader),
            on_timeout: fields.optional("on_timeout", reader),
        }),
        "wait" => StepKindSpec::Wait(WaitSpec {
            duration: fields.optional("duration", reader),
            until: fields.optional("until", reader),
        }),
        "noop" => StepKindSpec::Noop(NoopSpec {
            output: fields.optional("output", reader),
            duration: fields.optional("duration", reader),
        }),
        "fail" => StepKindSpec::Fail(FailSpec {
            message: fields.required("message", at, what, reader)?,
        }),
        "signal" => StepKindSpec::Signal(SignalSpec {
            name: fields.required("name", at, what, reader)?,
            schema: fields.optional("schema", reader),
            on_timeout: fields.optional("on_timeout", reader),
        }),
        _ => return None,
    })
}

fn read_task(
    fields: &mut Fields<'_>,
    at: Position,
    what: &str,
    reader: &mut Reader,
) -> Option<TaskSpec> {
    let queue = fields.required("queue", at, what, reader);
    let input = fields.optional("input", reader);
    Some(TaskSpec {
        queue: queue?,
        input,
    })
}

fn read_http(
    fields: &mut Fields<'_>,
    at: Position,
    what: &str,
    reader: &mut Reader,
) -> Option<HttpSpec> {
    let Some(node) = fields.get("request") else {
        reader.problem(at, format!("{what} needs `request`"));
        return None;
    };
    let mut request = reader.mapping(node, "`request`")?;
    let method = request.optional("method", reader);
    let url = request.required("url", node.at, "`request`", reader);
    let headers = request.optional("headers", reader);
    let body = request.optional("body", reader);
    request.finish(&["method", "url", "headers", "body"], "`request`", reader);
    Some(HttpSpec {
        request: Located {
            at: node.at,
            value: HttpRequestSpec {
                method,
                url: url?,
                headers,
                body,
                whole: TemplateSpec(node.clone()),
            },
        },
    })
}

fn read_compensation(node: &Node, reader: &mut Reader) -> Option<CompensationSpec> {
    let what = "`compensate`";
    let mut fields = reader.mapping(node, what)?;
    let type_name: Option<String> = fields.required("type", node.at, what, reader);
    let retry = fields
        .get("retry")
        .and_then(|node| read_retry(node, reader));
    let timeout = fields.optional("timeout", reader);
    let (kind, own): (Option<CompensationKindSpec>, &[&str]) = match type_name.as_deref() {
        Some("task") => (
            read_task(&mut fields, node.at, what, reader).map(CompensationKindSpec::Task),
            &["queue", "input"],
        ),
        Some("http") => (
            read_http(&mut fields, node.at, what, reader).map(CompensationKindSpec::Http),
            &["request"],
        ),
        Some(other) => {
            reader.problem(
                node.at,
                format!("a compensation is a `task` or an `http` call, not `{other}`"),
            );
            return None;
        }
        None => return None,
    };
    let valid: Vec<&str> = ["type", "retry", "timeout"]
        .iter()
        .chain(own)
        .copied()
        .collect();
    fields.finish(&valid, what, reader);
    Some(CompensationSpec {
        at: node.at,
        kind,
        retry,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn measures_edit_distance() {
        assert_eq!(edit_distance("neds", "needs"), 1);
        assert_eq!(edit_distance("queue", "queue"), 0);
        assert_eq!(edit_distance("abc", "xyz"), 3);
    }
}
