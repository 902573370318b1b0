//! The builder's state while it checks a spec: the reader that collects
//! problems, step ids in order, and what each step may reach.

use std::collections::HashMap;

use super::super::graph::StepSet;
use super::super::read::Reader;
use super::super::source::{Position, Problems};

/// What an expression at some place may read of `steps`.
#[derive(Clone, Copy)]
pub(super) enum Reach {
    /// Only steps upstream of this one (`when`, inputs, requests).
    Upstream(usize),
    /// This step and what is upstream of it (its compensation).
    SelfAndUpstream(usize),
    /// Any step (the workflow's output).
    Any,
}

pub(super) struct Builder<'a> {
    pub(super) reader: Reader,
    pub(super) ids: HashMap<&'a str, usize>,
    pub(super) ancestors: Vec<StepSet>,
    pub(super) names: Vec<&'a str>,
    /// Whether an expression compiled so far iterates.
    pub(super) iterates: bool,
}

impl<'a> Builder<'a> {
    pub(super) fn problem(&mut self, at: Position, message: impl Into<String>) {
        self.reader.problem(at, message);
    }

    pub(super) fn finish_with_problems(mut self) -> Problems {
        let problems = std::mem::take(&mut self.reader.problems);
        Problems::from_vec(problems)
            .unwrap_or_else(|| Problems::one(Position::default(), "invalid workflow"))
    }
}
