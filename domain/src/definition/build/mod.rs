//! Turns a spec into a validated [`WorkflowDefinition`], reporting every
//! problem at once: names, references, the graph, expressions, schemas.
//! This file checks the header and the graph; `steps` checks each step and
//! `expressions` what expressions read.

mod expressions;
mod steps;

use std::collections::HashMap;
use std::time::Duration;

use super::graph::{self, StepSet};
use super::model::*;
use super::read::Reader;
use super::source::{Position, Problems};
use super::spec::*;

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
    let sla = spec.sla.as_ref().map(|sla| sla.value.0);

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
        sla,
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
}
