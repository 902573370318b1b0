//! Turns a spec into a validated [`WorkflowDefinition`], reporting every
//! problem at once: names, references, the graph, expressions, schemas.

use std::collections::HashMap;
use std::time::Duration;

use super::graph::{self, StepSet};
use super::model::*;
use super::read::Reader;
use super::source::{Position, Problems};
use super::spec::*;
use super::yaml::Node;
use crate::expression::{Expression, Template};
use crate::ids::StepId;

/// What an expression at some place may read of `steps`.
#[derive(Clone, Copy)]
enum Reach {
    /// Only steps upstream of this one (`when`, inputs, requests).
    Upstream(usize),
    /// This step and what is upstream of it (its compensation).
    SelfAndUpstream(usize),
    /// Any step (the workflow's output).
    Any,
}

struct Builder<'a> {
    reader: Reader,
    ids: HashMap<&'a str, usize>,
    ancestors: Vec<StepSet>,
    names: Vec<&'a str>,
}

pub(super) fn build(
    spec: &WorkflowSpec,
    reader: Reader,
    hash: String,
) -> Result<WorkflowDefinition, Problems> {
    let written: Vec<&(Located<String>, StepSpec)> = spec.steps.value.0.iter().collect();
    let mut builder = Builder {
        reader,
        ids: HashMap::new(),
        ancestors: Vec::new(),
        names: written.iter().map(|(id, _)| id.value.as_str()).collect(),
    };
    builder.check_header(spec);
    for (index, (id, _)) in written.iter().enumerate() {
        builder.check_step_id(id);
        builder.ids.insert(id.value.as_str(), index);
    }
    let mut needs: Vec<Vec<usize>> = written
        .iter()
        .enumerate()
        .map(|(index, (_, step))| builder.resolve_needs(index, step))
        .collect();
    // Report each cycle, then break it and go on, so that the rest of the
    // file is checked too (the definition is refused all the same).
    let order = loop {
        match graph::topological_order(&needs) {
            Ok(order) => break order,
            Err(cycle) => {
                builder.report_cycle(&written, &cycle);
                let (Some(&from), Some(&to)) = (cycle.first(), cycle.get(1).or(cycle.first()))
                else {
                    return Err(builder.finish_with_problems());
                };
                let before = needs[from].len();
                needs[from].retain(|&need| need != to);
                if needs[from].len() == before {
                    return Err(builder.finish_with_problems());
                }
            }
        }
    };
    // Renumber everything into topological order.
    let mut position_of = vec![0; written.len()];
    for (new, &old) in order.iter().enumerate() {
        position_of[old] = new;
    }
    let sorted_needs: Vec<Vec<usize>> = order
        .iter()
        .map(|&old| needs[old].iter().map(|&need| position_of[need]).collect())
        .collect();
    builder.ancestors = graph::ancestors(&sorted_needs);
    builder.ids = order
        .iter()
        .enumerate()
        .map(|(new, &old)| (written[old].0.value.as_str(), new))
        .collect();
    builder.names = order
        .iter()
        .map(|&old| written[old].0.value.as_str())
        .collect();

    let defaults = Defaults::from_spec(spec.defaults.as_ref(), &mut builder);
    let steps: Vec<Option<StepDefinition>> = order
        .iter()
        .enumerate()
        .map(|(index, &old)| {
            let (id, step) = written[old];
            builder.step(index, id, step, sorted_needs[index].clone(), &defaults)
        })
        .collect();
    let input_schema = spec
        .input
        .as_ref()
        .and_then(|input| builder.input_schema(&input.schema));
    let output = spec
        .output
        .as_ref()
        .and_then(|output| builder.template(&output.0, Reach::Any, "`output`"));
    let timeout = spec.timeout.as_ref().map(|timeout| timeout.value.0);

    let problems = std::mem::take(&mut builder.reader.problems);
    if let Some(problems) = Problems::from_vec(problems) {
        return Err(problems);
    }
    let steps: Vec<StepDefinition> = steps.into_iter().flatten().collect();
    let index = steps
        .iter()
        .enumerate()
        .map(|(position, step)| (step.id.clone(), position))
        .collect();
    let descendants = graph::descendants(&builder.ancestors);
    Ok(WorkflowDefinition {
        name: spec.name.value.clone(),
        version: spec.version.value,
        description: spec.description.clone(),
        hash,
        input_schema,
        timeout,
        steps,
        output,
        index,
        descendants,
        ancestors: builder.ancestors,
    })
}

/// Step settings inherited from `defaults:`.
struct Defaults {
    retry: RetryPolicy,
    compensation_retry: RetryPolicy,
    timeout: Option<Duration>,
    heartbeat_timeout: Option<Duration>,
    on_error: OnError,
}

impl Defaults {
    fn from_spec(spec: Option<&DefaultsSpec>, builder: &mut Builder<'_>) -> Self {
        let spec = spec.cloned().unwrap_or_default();
        Self {
            retry: builder.retry(spec.retry.as_ref(), RetryPolicy::STEP_DEFAULT),
            compensation_retry: builder.retry(
                spec.compensation_retry.as_ref(),
                RetryPolicy::COMPENSATION_DEFAULT,
            ),
            timeout: spec.timeout.map(|timeout| timeout.value.0),
            heartbeat_timeout: spec.heartbeat_timeout.map(|timeout| timeout.value.0),
            on_error: spec.on_error.unwrap_or_default(),
        }
    }
}

fn is_identifier(text: &str, extra: &[char]) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
}

impl<'a> Builder<'a> {
    fn problem(&mut self, at: Position, message: impl Into<String>) {
        self.reader.problem(at, message);
    }

    fn finish_with_problems(mut self) -> Problems {
        let problems = std::mem::take(&mut self.reader.problems);
        Problems::from_vec(problems)
            .unwrap_or_else(|| Problems::one(Position::default(), "invalid workflow"))
    }

    fn check_header(&mut self, spec: &WorkflowSpec) {
        let name = &spec.name;
        let valid_name = name.value.len() <= 128
            && name
                .value
                .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !valid_name && !name.value.is_empty() {
            self.problem(
                name.at,
                format!("name `{}` must be lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit", name.value),
            );
        }
        if spec.version.value == 0 && spec.version.at != Position::default() {
            let at = spec.version.at;
            if self.reader.problems.iter().all(|problem| problem.at != at) {
                self.problem(at, "`version` must be 1 or more");
            }
        }
    }

    fn check_step_id(&mut self, id: &Located<String>) {
        if !is_identifier(&id.value, &['-']) || id.value.starts_with(|c: char| c.is_ascii_digit()) {
            self.problem(
                id.at,
                format!("step id `{}` must start with a letter or `_` and hold only letters, digits, `_` or `-`", id.value),
            );
        }
    }

    fn resolve_needs(&mut self, index: usize, step: &StepSpec) -> Vec<usize> {
        let mut resolved = Vec::new();
        for need in step.common.needs.iter().flatten() {
            match self.ids.get(need.value.as_str()) {
                Some(&need_index) if need_index == index => {
                    self.problem(need.at, format!("step `{}` needs itself", need.value));
                }
                Some(&need_index) if resolved.contains(&need_index) => {
                    self.problem(
                        need.at,
                        format!("`{}` is listed twice in `needs`", need.value),
                    );
                }
                Some(&need_index) => resolved.push(need_index),
                None => {
                    let message = format!(
                        "`needs` names `{}`, which is not a step of this workflow (steps: {})",
                        need.value,
                        self.names.join(", ")
                    );
                    self.problem(need.at, message);
                }
            }
        }
        resolved
    }

    fn report_cycle(&mut self, written: &[&(Located<String>, StepSpec)], cycle: &[usize]) {
        let mut path: Vec<&str> = cycle
            .iter()
            .map(|&step| written[step].0.value.as_str())
            .collect();
        path.push(path[0]);
        let first = cycle.iter().min().copied().unwrap_or(0);
        let at = written[first].0.at;
        self.problem(at, format!("the steps form a cycle: {}", path.join(" -> ")));
    }

    fn retry(&mut self, spec: Option<&RetrySpec>, base: RetryPolicy) -> RetryPolicy {
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

    fn step(
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
        if let (Some(StepKind::Approval { .. }), Some(retry)) = (&kind, &common.retry) {
            let at = retry.max_attempts.as_ref().map_or(spec.at, |m| m.at);
            self.problem(at, "an approval is decided once; it takes no `retry`");
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

    fn kind(&mut self, index: usize, kind: &Located<StepKindSpec>) -> Option<StepKind> {
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
        })
    }

    fn task(&mut self, task: &TaskSpec, reach: Reach) -> Option<(String, Template)> {
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

    fn request(&mut self, http: &HttpSpec, reach: Reach) -> Option<Template> {
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

    fn compensation(
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

    fn template(&mut self, node: &Node, reach: Reach, what: &str) -> Option<Template> {
        let mut found = Vec::new();
        let compiled = Template::compile(node, &mut |at, expression| {
            found.push((at, expression.clone()));
        });
        for (at, expression) in found {
            self.check_references(&expression, at, reach, what);
        }
        match compiled {
            Ok(template) => Some(template),
            Err(errors) => {
                for error in errors {
                    self.problem(error.at, format!("{what}: {}", error.message));
                }
                None
            }
        }
    }

    fn expression(
        &mut self,
        source: &str,
        at: Position,
        reach: Reach,
        what: &str,
    ) -> Option<Expression> {
        match Expression::compile(source) {
            Ok(expression) => {
                let references = expression.references();
                if references.secrets_dynamic || !references.secrets.is_empty() {
                    self.problem(at, format!("{what}: secrets cannot be read in a condition"));
                }
                self.check_references(&expression, at, reach, what);
                Some(expression)
            }
            Err(error) => {
                self.problem(
                    at,
                    format!(
                        "{what}: expression `{source}` does not parse: {} (at {}:{} of the expression)",
                        error.message, error.line, error.column
                    ),
                );
                None
            }
        }
    }

    fn check_references(
        &mut self,
        expression: &Expression,
        at: Position,
        reach: Reach,
        what: &str,
    ) {
        let references = expression.references();
        let source = expression.source().trim();
        for unknown in &references.unknown {
            self.problem(
                at,
                format!("{what}: `{source}` reads `{unknown}`, which is not a variable (variables: input, steps, workflow)"),
            );
        }
        if references.steps_dynamic {
            self.problem(
                at,
                format!("{what}: `{source}` must read steps by id, as steps.<id>"),
            );
        }
        for step in &references.steps {
            let Some(&target) = self.ids.get(step.as_str()) else {
                self.problem(
                    at,
                    format!("{what}: `{source}` reads `steps.{step}`, which is not a step of this workflow"),
                );
                continue;
            };
            let allowed = match reach {
                Reach::Any => true,
                Reach::Upstream(index) => self.ancestors[index].contains(target),
                Reach::SelfAndUpstream(index) => {
                    index == target || self.ancestors[index].contains(target)
                }
            };
            if !allowed {
                let place = match reach {
                    Reach::Upstream(index) | Reach::SelfAndUpstream(index) => {
                        format!("step `{}`", self.names[index])
                    }
                    Reach::Any => String::new(),
                };
                self.problem(
                    at,
                    format!("{what}: `{source}` reads `steps.{step}`, which is not upstream of {place} (add it to `needs`, directly or through another step)"),
                );
            }
        }
    }

    fn input_schema(&mut self, schema: &Located<serde_json::Value>) -> Option<InputSchema> {
        if let Err(error) = jsonschema::meta::validate(&schema.value) {
            self.problem(
                schema.at,
                format!("`input.schema` is not a valid JSON Schema: {error}"),
            );
            return None;
        }
        match jsonschema::validator_for(&schema.value) {
            Ok(validator) => Some(InputSchema {
                schema: schema.value.clone(),
                validator: std::sync::Arc::new(validator),
            }),
            Err(error) => {
                self.problem(
                    schema.at,
                    format!("`input.schema` is not a valid JSON Schema: {error}"),
                );
                None
            }
        }
    }
}
