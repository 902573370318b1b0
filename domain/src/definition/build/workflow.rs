//! The whole spec: header, graph (renumbered in topological order, every
//! cycle reported), steps with their defaults, input schema and output.

use std::collections::HashMap;
use std::time::Duration;

use super::super::graph;
use super::super::model::*;
use super::super::read::Reader;
use super::super::source::Problems;
use super::super::spec::*;
use super::{Builder, Reach};

pub(in crate::definition) fn build(
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
        iterates: false,
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
        iterates: builder.iterates,
    })
}

/// Step settings inherited from `defaults:`.
pub(super) struct Defaults {
    pub(super) retry: RetryPolicy,
    pub(super) compensation_retry: RetryPolicy,
    pub(super) timeout: Option<Duration>,
    pub(super) heartbeat_timeout: Option<Duration>,
    pub(super) on_error: OnError,
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
