//! Names and references: the workflow's name and version, step ids, and
//! `needs` (each naming a step, none twice, no cycle).

use super::super::source::Position;
use super::super::spec::*;
use super::Builder;

pub(super) fn is_identifier(text: &str, extra: &[char]) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
}

impl Builder<'_> {
    pub(super) fn check_header(&mut self, spec: &WorkflowSpec) {
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

    pub(super) fn check_step_id(&mut self, id: &Located<String>) {
        if !is_identifier(&id.value, &['-']) || id.value.starts_with(|c: char| c.is_ascii_digit()) {
            self.problem(
                id.at,
                format!("step id `{}` must start with a letter or `_` and hold only letters, digits, `_` or `-`", id.value),
            );
        }
    }

    pub(super) fn resolve_needs(&mut self, index: usize, step: &StepSpec) -> Vec<usize> {
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

    pub(super) fn report_cycle(
        &mut self,
        written: &[&(Located<String>, StepSpec)],
        cycle: &[usize],
    ) {
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
