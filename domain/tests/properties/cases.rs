//! What proptest draws: a random workflow (written as YAML), the input
//! flags its conditions read, and the world's weights and choices.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use domain::definition::OnError;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

/// Flags in the input, read by generated `when:` conditions.
const FLAGS: usize = 8;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Task,
    Noop,
    Approval,
}

#[derive(Clone, Debug)]
enum WhenGen {
    /// `input.flags[flag]`, maybe negated: constant for the run.
    Flag { flag: usize, negate: bool },
    /// `steps.X.status == 'completed'` (or `!=`, or `'failed'`) on a
    /// transitive need X; falls back to a flag when there is none.
    Status {
        ancestor: Index,
        negate: bool,
        failed: bool,
        flag: usize,
    },
}

#[derive(Clone, Debug)]
struct CompensateGen {
    max_attempts: Option<u32>,
    timeout: bool,
}

#[derive(Clone, Debug)]
struct StepGen {
    kind: Kind,
    needs: Vec<Index>,
    join_any: bool,
    when: Option<WhenGen>,
    on_error: Option<OnError>,
    max_attempts: Option<u32>,
    timeout: bool,
    heartbeat: bool,
    /// For approvals: a deadline, and whether it approves (else rejects).
    approval_timeout: Option<bool>,
    compensate: Option<CompensateGen>,
}

/// One world action: a category (by the case's weights), a target and a flag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Choice {
    pub(crate) kind: u16,
    pub(crate) target: Index,
    pub(crate) flag: bool,
}

#[derive(Clone)]
pub(crate) struct Case {
    steps: Vec<StepGen>,
    flags: [bool; FLAGS],
    pub(crate) weights: Weights,
    pub(crate) choices: Vec<Choice>,
}

impl Case {
    pub(crate) fn input(&self) -> Value {
        json!({ "flags": self.flags.to_vec() })
    }

    pub(crate) fn yaml(&self) -> String {
        write_yaml(&self.steps)
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "input: {}", self.input())?;
        writeln!(f, "---\n{}---", self.yaml())?;
        writeln!(f, "weights: {:?}", self.weights)?;
        write!(f, "choices ({}): [", self.choices.len())?;
        for choice in &self.choices {
            write!(
                f,
                "({}, {:?}, {}), ",
                choice.kind, choice.target, choice.flag
            )?;
        }
        write!(f, "]")
    }
}

/// The YAML text of a generated workflow. Steps are `s0..sN`; step i needs
/// only steps j < i, so the written order is a topological order and the
/// definition keeps it: step `sI` has index I.
/// `join: any` is written only on steps with needs: the validator refuses
/// it elsewhere (it used to panic the engine, see the regression test below).
fn write_yaml(steps: &[StepGen]) -> String {
    let mut ancestors: Vec<BTreeSet<usize>> = Vec::with_capacity(steps.len());
    let mut out = String::from("name: prop\nversion: 1\nsteps:\n");
    for (i, step) in steps.iter().enumerate() {
        let needs: BTreeSet<usize> = if i == 0 {
            BTreeSet::new()
        } else {
            step.needs.iter().map(|need| need.index(i)).collect()
        };
        let mut upstream = needs.clone();
        for &need in &needs {
            upstream.extend(ancestors[need].iter().copied());
        }
        let _ = writeln!(out, "  s{i}:");
        match step.kind {
            Kind::Task => out.push_str("    type: task\n    queue: q\n"),
            Kind::Noop => out.push_str("    type: noop\n"),
            Kind::Approval => out.push_str("    type: approval\n"),
        }
        if !needs.is_empty() {
            let names: Vec<String> = needs.iter().map(|need| format!("s{need}")).collect();
            let _ = writeln!(out, "    needs: [{}]", names.join(", "));
        }
        if step.join_any && !needs.is_empty() {
            out.push_str("    join: any\n");
        }
        match &step.when {
            None => {}
            Some(WhenGen::Flag { flag, negate }) => {
                let not = if *negate { "!" } else { "" };
                let _ = writeln!(out, "    when: \"{not}input.flags[{flag}]\"");
            }
            Some(WhenGen::Status {
                ancestor,
                negate,
                failed,
                flag,
            }) => {
                if upstream.is_empty() {
                    let not = if *negate { "!" } else { "" };
                    let _ = writeln!(out, "    when: \"{not}input.flags[{flag}]\"");
                } else {
                    let upstream: Vec<usize> = upstream.iter().copied().collect();
                    let target = upstream[ancestor.index(upstream.len())];
                    let op = if *negate { "!=" } else { "==" };
                    let status = if *failed { "failed" } else { "completed" };
                    let _ = writeln!(out, "    when: \"steps.s{target}.status {op} '{status}'\"");
                }
            }
        }
        let can_fail = matches!(step.kind, Kind::Task | Kind::Approval);
        if can_fail && let Some(on_error) = step.on_error {
            let name = match on_error {
                OnError::Compensate => "compensate",
                OnError::Continue => "continue",
                OnError::Fail => "fail",
            };
            let _ = writeln!(out, "    on_error: {name}");
        }
        match step.kind {
            Kind::Task => {
                if let Some(max_attempts) = step.max_attempts {
                    let _ = writeln!(out, "    retry: {}", retry(max_attempts));
                }
                if step.timeout {
                    out.push_str("    timeout: 30s\n");
                }
                if step.heartbeat {
                    out.push_str("    heartbeat_timeout: 10s\n");
                }
                if let Some(compensate) = &step.compensate {
                    out.push_str("    compensate: { type: task, queue: q");
                    if let Some(max_attempts) = compensate.max_attempts {
                        let _ = write!(out, ", retry: {}", retry(max_attempts));
                    }
                    if compensate.timeout {
                        out.push_str(", timeout: 20s");
                    }
                    out.push_str(" }\n");
                }
            }
            Kind::Approval => {
                if let Some(approve) = step.approval_timeout {
                    let on_timeout = if approve { "approve" } else { "reject" };
                    let _ = writeln!(out, "    timeout: 1h\n    on_timeout: {on_timeout}");
                }
            }
            Kind::Noop => {}
        }
        ancestors.push(upstream);
    }
    out
}

/// A quick retry policy without jitter, as a YAML flow mapping.
fn retry(max_attempts: u32) -> String {
    format!("{{ max_attempts: {max_attempts}, jitter: false, initial: 1s }}")
}

fn when_gen() -> impl Strategy<Value = Option<WhenGen>> {
    prop_oneof![
        6 => Just(None),
        2 => (0..FLAGS, prop::bool::weighted(0.25))
            .prop_map(|(flag, negate)| Some(WhenGen::Flag { flag, negate })),
        2 => (any::<Index>(), prop::bool::weighted(0.25), prop::bool::weighted(0.25), 0..FLAGS).prop_map(
            |(ancestor, negate, failed, flag)| Some(WhenGen::Status {
                ancestor,
                negate,
                failed,
                flag
            })
        ),
    ]
}

fn step_gen() -> impl Strategy<Value = StepGen> {
    let kind = prop_oneof![
        7 => Just(Kind::Task),
        2 => Just(Kind::Noop),
        2 => Just(Kind::Approval),
    ];
    let on_error = prop_oneof![
        4 => Just(None),
        1 => Just(Some(OnError::Compensate)),
        3 => Just(Some(OnError::Continue)),
        1 => Just(Some(OnError::Fail)),
    ];
    let compensate = prop::option::weighted(
        0.5,
        (
            prop::option::weighted(0.6, 1u32..=3),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(max_attempts, timeout)| CompensateGen {
                max_attempts,
                timeout,
            }),
    );
    (
        (
            kind,
            prop::collection::vec(any::<Index>(), 0..4),
            prop::bool::weighted(0.3),
            when_gen(),
        ),
        (
            on_error,
            prop::option::weighted(0.8, 1u32..=3),
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.15),
            prop::option::weighted(0.2, any::<bool>()),
            compensate,
        ),
    )
        .prop_map(
            |(
                (kind, needs, join_any, when),
                (on_error, max_attempts, timeout, heartbeat, approval_timeout, compensate),
            )| StepGen {
                kind,
                needs,
                join_any,
                when,
                on_error,
                max_attempts,
                timeout,
                heartbeat,
                approval_timeout,
                compensate,
            },
        )
}

fn choice_gen() -> impl Strategy<Value = Choice> {
    (any::<u16>(), any::<Index>(), any::<bool>()).prop_map(|(kind, target, flag)| Choice {
        kind,
        target,
        flag,
    })
}

pub(crate) fn case_gen(max_steps: usize, max_choices: usize) -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(step_gen(), 1..=max_steps),
        prop::array::uniform8(prop::bool::weighted(0.75)),
        weights_gen(),
        prop::collection::vec(choice_gen(), 0..max_choices),
    )
        .prop_map(|(steps, flags, weights, choices)| Case {
            steps,
            flags,
            weights,
            choices,
        })
}

/// What the world may do. Each case draws its own weights, so some worlds
/// mostly fail, some mostly duplicate, some are calm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Category {
    CompleteStep,
    RecordStarted,
    FailRetryable,
    FailPermanent,
    CompleteCompensation,
    FailCompensationRetryable,
    FailCompensationPermanent,
    Approve,
    Reject,
    FireTimer,
    Duplicate,
    Stale,
    RefireTimer,
    Pause,
    Resume,
    Cancel,
    /// `retry` the step that failed the instance, or a failed compensation.
    OperatorRetry,
    /// `skip` the step that failed the instance, a failed compensation, or
    /// a step that has not started in a running instance.
    OperatorSkip,
}

/// In the order of [`Weights`]; the first one gets at least weight 1, so a
/// choice shrinks toward completing a step.
const CATEGORIES: [Category; 18] = [
    Category::CompleteStep,
    Category::RecordStarted,
    Category::FailRetryable,
    Category::FailPermanent,
    Category::CompleteCompensation,
    Category::FailCompensationRetryable,
    Category::FailCompensationPermanent,
    Category::Approve,
    Category::Reject,
    Category::FireTimer,
    Category::Duplicate,
    Category::Stale,
    Category::RefireTimer,
    Category::Pause,
    Category::Resume,
    Category::Cancel,
    Category::OperatorRetry,
    Category::OperatorSkip,
];

pub(crate) type Weights = [u16; 18];

fn weights_gen() -> impl Strategy<Value = Weights> {
    let rare = prop_oneof![6 => Just(0u16), 4 => 1u16..=10];
    (
        prop::array::uniform13(0u16..=40),
        prop::array::uniform5(rare),
    )
        .prop_map(|(common, rare)| {
            let mut weights = [0; 18];
            weights[..13].copy_from_slice(&common);
            weights[13..].copy_from_slice(&rare);
            weights[0] += 1;
            weights
        })
}

pub(crate) fn category(weights: &Weights, kind: u16) -> Category {
    let total: u32 = weights.iter().map(|&weight| u32::from(weight)).sum();
    let mut rest = u32::from(kind) % total.max(1);
    for (weight, category) in weights.iter().zip(CATEGORIES) {
        if rest < u32::from(*weight) {
            return category;
        }
        rest -= u32::from(*weight);
    }
    Category::CompleteStep
}
