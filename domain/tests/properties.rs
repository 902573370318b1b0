//! Property tests of the instance aggregate over random workflows.
//!
//! A random DAG of 1 to 30 steps is written as YAML, parsed, started, and
//! driven by a random "world": workers complete or fail attempts and
//! compensations, people approve or reject, timers fire, operators sometimes
//! pause, resume, cancel, and retry or skip what failed, and the transport
//! delivers duplicates, stale attempts and re-fired timers. Each case draws
//! its own weights for these, so some worlds are calm and some hostile. The
//! world is a list of choices, so proptest shrinks it; once the choices run
//! out a benign world (complete everything, approve, fire timers, resume)
//! drives the run to its end. Then the history is checked:
//!
//! 1. every run reaches a final state, within a bound of iterations;
//! 2. no step is scheduled before its needs are settled (by its `join`);
//! 3. only completed steps are compensated, each compensation completes at
//!    most once, and in saga order (dependants first);
//! 4. replaying the history with `evolve` gives the harness' state;
//! 5. duplicate and stale deliveries, and re-fired timers, decide nothing;
//! 6. every event survives a JSON round trip.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use domain::definition::{Join, OnError, StepKind, WorkflowDefinition};
use domain::instance::{
    Actor, Command, CompensationState, DecisionContext, Event, InstanceStatus, SkipReason,
    StepError, StepStatus, Timer, Waiting, WorkflowInstance, decide, evolve,
};
use domain::parse_workflow;
use domain::testkit::{Harness, describe};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

/// The loop bound: a run that has not ended after this many world actions fails.
const MAX_ITERATIONS: usize = 2_000;
const FLAGS: usize = 8;

// ---------------------------------------------------------------------------
// Random workflows

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
struct Choice {
    kind: u16,
    target: Index,
    flag: bool,
}

#[derive(Clone)]
struct Case {
    steps: Vec<StepGen>,
    flags: [bool; FLAGS],
    weights: Weights,
    choices: Vec<Choice>,
}

impl Case {
    fn input(&self) -> Value {
        json!({ "flags": self.flags.to_vec() })
    }

    fn yaml(&self) -> String {
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
                    let _ = writeln!(
                        out,
                        "    retry: {{ max_attempts: {max_attempts}, jitter: false, initial: 1s }}"
                    );
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
                        let _ = write!(
                            out,
                            ", retry: {{ max_attempts: {max_attempts}, jitter: false, initial: 1s }}"
                        );
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

fn case_gen(max_steps: usize, max_choices: usize) -> impl Strategy<Value = Case> {
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

// ---------------------------------------------------------------------------
// The world

/// What the world may do. Each case draws its own weights, so some worlds
/// mostly fail, some mostly duplicate, some are calm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
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

type Weights = [u16; 18];

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

fn category(weights: &Weights, kind: u16) -> Category {
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

fn is_task(definition: &WorkflowDefinition, index: usize) -> bool {
    matches!(definition.steps[index].kind, StepKind::Task { .. })
}

/// A task attempt a worker may still answer.
fn in_flight(state: &WorkflowInstance, index: usize) -> bool {
    matches!(
        state.steps[index].status(),
        StepStatus::Scheduled | StepStatus::Running
    ) && is_task(&state.definition, index)
}

/// Completed, has a compensation, and not undone yet.
fn needs_undoing(state: &WorkflowInstance, index: usize) -> bool {
    state.steps[index].status() == StepStatus::Completed
        && state.definition.steps[index].compensate.is_some()
        && !matches!(
            state.steps[index].compensation,
            CompensationState::Completed | CompensationState::Skipped
        )
}

fn step_id(state: &WorkflowInstance, index: usize) -> domain::StepId {
    state.definition.steps[index].id.clone()
}

/// The item `target` selects; the first one without a target.
fn pick<T: Copy>(items: &[T], target: impl Into<Option<Index>>) -> Option<T> {
    let position = target
        .into()
        .map_or(0, |target| target.index(items.len().max(1)));
    items.get(position).copied()
}

struct World {
    h: Harness,
    /// Result commands that were accepted (decided events): their repeats are duplicates.
    delivered: Vec<Command>,
    /// Approvals and rejections that were accepted: their repeats are refused.
    decisions: Vec<Command>,
    /// Timers fired so far: firing one again is a duplicate.
    fired: Vec<Timer>,
    /// Every command issued, for the failure report.
    trace: Vec<String>,
    outputs: u64,
    weights: Weights,
}

/// A distinct output for each completion.
fn next_output(outputs: &mut u64) -> Value {
    *outputs += 1;
    json!({ "n": *outputs })
}

/// What one world action is.
enum Action {
    /// Must be accepted and decide at least one event.
    Live(Command),
    /// Must be accepted (an operator command, an approval, a timer).
    Accepted(Command),
    /// Must decide no events.
    Ignored(Command),
    /// Must be refused (and so change nothing).
    Refused(Command),
    FireNextTimer,
}

impl World {
    fn new(definition: Arc<WorkflowDefinition>) -> Self {
        Self {
            h: Harness::new(definition),
            delivered: Vec::new(),
            decisions: Vec::new(),
            fired: Vec::new(),
            trace: Vec::new(),
            outputs: 0,
            weights: [1; 18],
        }
    }

    fn state(&self) -> &WorkflowInstance {
        &self.h.state
    }

    fn report(&self, yaml: &str, input: &Value) -> String {
        let mut text = format!("input: {input}\n---\n{yaml}---\ncommands:\n");
        for line in &self.trace {
            let _ = writeln!(text, "  {line}");
        }
        let _ = writeln!(text, "history:");
        for event in &self.h.history {
            let _ = writeln!(text, "  {}", describe(event));
        }
        let _ = writeln!(text, "status: {}", self.state().status);
        text
    }

    /// The benign action: what a healthy world does next.
    fn benign(&mut self, target: Option<Index>) -> Option<Action> {
        let state = &self.h.state;
        let count = state.steps.len();
        if state.status == InstanceStatus::Paused {
            return Some(Action::Accepted(Command::Resume));
        }
        let flying: Vec<usize> = (0..count).filter(|&i| in_flight(state, i)).collect();
        if let Some(index) = pick(&flying, target) {
            return Some(Action::Live(Command::CompleteStep {
                step: step_id(state, index),
                attempt: state.steps[index].attempt,
                output: next_output(&mut self.outputs),
            }));
        }
        let compensations = scheduled_compensations(state);
        if let Some((index, attempt)) = pick(&compensations, target) {
            return Some(Action::Live(Command::CompleteCompensation {
                step: step_id(state, index),
                attempt,
                output: json!({ "undone": true }),
            }));
        }
        let approvals = waiting_approvals(state);
        if let Some(index) = pick(&approvals, target) {
            return Some(Action::Live(Command::Approve {
                step: step_id(state, index),
                actor: Actor::new("alice", &[]),
                comment: None,
            }));
        }
        if !self.h.timers.is_empty() {
            return Some(Action::FireNextTimer);
        }
        None
    }

    /// The action a choice asks for, if it is possible now.
    fn chosen(&mut self, choice: Choice) -> Option<Action> {
        let state = &self.h.state;
        let count = state.steps.len();
        let target = choice.target;
        let flying: Vec<usize> = (0..count).filter(|&i| in_flight(state, i)).collect();
        let action = match category(&self.weights, choice.kind) {
            Category::CompleteStep => {
                let index = pick(&flying, target)?;
                Action::Live(Command::CompleteStep {
                    step: step_id(state, index),
                    attempt: state.steps[index].attempt,
                    output: next_output(&mut self.outputs),
                })
            }
            Category::RecordStarted => {
                let scheduled: Vec<usize> = flying
                    .iter()
                    .copied()
                    .filter(|&i| state.steps[i].status() == StepStatus::Scheduled)
                    .collect();
                let index = pick(&scheduled, target)?;
                Action::Live(Command::RecordStepStarted {
                    step: step_id(state, index),
                    attempt: state.steps[index].attempt,
                    worker: "w1".to_owned(),
                })
            }
            Category::FailRetryable | Category::FailPermanent => {
                let index = pick(&flying, target)?;
                let retryable = category(&self.weights, choice.kind) == Category::FailRetryable;
                Action::Live(Command::FailStep {
                    step: step_id(state, index),
                    attempt: state.steps[index].attempt,
                    error: StepError {
                        message: "broke".to_owned(),
                        retryable,
                    },
                })
            }
            Category::CompleteCompensation => {
                let (index, attempt) = pick(&scheduled_compensations(state), target)?;
                Action::Live(Command::CompleteCompensation {
                    step: step_id(state, index),
                    attempt,
                    output: json!({ "undone": true }),
                })
            }
            Category::FailCompensationRetryable | Category::FailCompensationPermanent => {
                let (index, attempt) = pick(&scheduled_compensations(state), target)?;
                let retryable =
                    category(&self.weights, choice.kind) == Category::FailCompensationRetryable;
                Action::Live(Command::FailCompensation {
                    step: step_id(state, index),
                    attempt,
                    error: StepError {
                        message: "undo broke".to_owned(),
                        retryable,
                    },
                })
            }
            Category::Approve | Category::Reject => {
                let index = pick(&waiting_approvals(state), target)?;
                let step = step_id(state, index);
                let actor = Actor::new("bob", &[]);
                let comment = choice.flag.then(|| "ok".to_owned());
                Action::Live(
                    if category(&self.weights, choice.kind) == Category::Approve {
                        Command::Approve {
                            step,
                            actor,
                            comment,
                        }
                    } else {
                        Command::Reject {
                            step,
                            actor,
                            comment,
                        }
                    },
                )
            }
            Category::FireTimer => {
                if self.h.timers.is_empty() {
                    return None;
                }
                Action::FireNextTimer
            }
            Category::Duplicate => {
                // Mostly results; sometimes a decided approval. Approve and
                // Reject name no attempt: once an operator's retry asks for
                // the approval again, a repeat is a new decision, not a duplicate.
                let decided = (choice.flag && choice.kind.is_multiple_of(4))
                    .then_some(())
                    .and_then(|()| {
                        let position = target.index(self.decisions.len().max(1));
                        self.decisions.get(position).cloned()
                    })
                    .filter(|decision| {
                        let (Command::Approve { step, .. } | Command::Reject { step, .. }) =
                            decision
                        else {
                            return false;
                        };
                        state
                            .definition
                            .step_index(step.as_str())
                            .is_some_and(|index| {
                                !matches!(
                                    state.steps[index].waiting(),
                                    Some(Waiting::Approval { .. })
                                )
                            })
                    });
                if let Some(command) = decided {
                    Action::Refused(command)
                } else if !self.delivered.is_empty() {
                    let command = self.delivered[target.index(self.delivered.len())].clone();
                    Action::Ignored(command)
                } else {
                    return None;
                }
            }
            Category::Stale => {
                // An older attempt of a step or of a compensation.
                let mut stale = Vec::new();
                for index in 0..count {
                    let step = &state.steps[index];
                    if is_task(&state.definition, index) {
                        for attempt in 1..step.attempt {
                            stale.push((index, attempt, false));
                        }
                    }
                    for attempt in 1..step.compensation_attempt {
                        stale.push((index, attempt, true));
                    }
                }
                let (index, attempt, compensation) = pick(&stale, target)?;
                let step = step_id(state, index);
                let error = StepError {
                    message: "late".to_owned(),
                    retryable: choice.flag,
                };
                Action::Ignored(match (compensation, choice.kind % 3) {
                    (false, 0) => Command::CompleteStep {
                        step,
                        attempt,
                        output: json!({ "stale": true }),
                    },
                    (false, 1) => Command::FailStep {
                        step,
                        attempt,
                        error,
                    },
                    (false, _) => Command::RecordStepStarted {
                        step,
                        attempt,
                        worker: "w0".to_owned(),
                    },
                    (true, 0 | 2) => Command::CompleteCompensation {
                        step,
                        attempt,
                        output: json!({ "stale": true }),
                    },
                    (true, _) => Command::FailCompensation {
                        step,
                        attempt,
                        error,
                    },
                })
            }
            Category::RefireTimer => {
                if self.fired.is_empty() {
                    return None;
                }
                let timer = self.fired[target.index(self.fired.len())].clone();
                Action::Ignored(Command::FireTimer(timer))
            }
            Category::Pause => {
                if state.status != InstanceStatus::Running {
                    return None;
                }
                Action::Accepted(Command::Pause)
            }
            Category::Resume => {
                if state.status != InstanceStatus::Paused {
                    return None;
                }
                Action::Accepted(Command::Resume)
            }
            Category::Cancel => {
                if !state.status.is_active() {
                    return None;
                }
                Action::Accepted(Command::Cancel {
                    compensate: choice.flag,
                })
            }
            category @ (Category::OperatorRetry | Category::OperatorSkip) => {
                return self.operator(category, target);
            }
        };
        Some(action)
    }

    /// An operator's `retry` or `skip`, if one applies now.
    fn operator(&self, category: Category, target: Index) -> Option<Action> {
        let state = &self.h.state;
        let count = state.steps.len();
        let skip = category == Category::OperatorSkip;
        let candidates: Vec<usize> = (0..count)
            .filter(|&index| {
                let step = &state.steps[index];
                match state.status {
                    InstanceStatus::Failed => {
                        step.status() == StepStatus::Failed
                            && state.definition.steps[index].on_error == OnError::Fail
                    }
                    InstanceStatus::CompensationFailed => {
                        matches!(step.compensation, CompensationState::Failed { .. })
                    }
                    InstanceStatus::Running | InstanceStatus::Paused => {
                        skip && (step.status() == StepStatus::Pending
                            || matches!(
                                step.waiting(),
                                Some(Waiting::Retry { .. } | Waiting::Approval { .. })
                            ))
                    }
                    _ => false,
                }
            })
            .collect();
        let step = step_id(state, pick(&candidates, target)?);
        let action = Action::Accepted(if skip {
            Command::SkipStep {
                step,
                output: json!({ "skipped_by": "operator" }),
            }
        } else {
            Command::RetryStep { step }
        });
        Some(action)
    }

    /// Performs an action, checking what it decided.
    fn perform(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::FireNextTimer => {
                let timer = self.h.timers[0].1.clone();
                self.trace.push(format!("fire {timer:?}"));
                let context = DecisionContext::new(self.h.now.max(self.h.timers[0].0), 0);
                // The harness refuses nothing here: a timer always decides Ok.
                decide(&self.h.state, &Command::FireTimer(timer.clone()), context)
                    .map_err(|error| format!("timer {timer:?} was refused: {error}"))?;
                self.h.fire_next_timer();
                self.fired.push(timer);
            }
            Action::Live(command) => {
                self.trace.push(format!("{command:?}"));
                let events = self
                    .h
                    .when(command.clone())
                    .map_err(|error| format!("{command:?} was refused: {error}"))?;
                if events.is_empty() {
                    return Err(format!("{command:?} is live but decided nothing"));
                }
                if is_result(&command) {
                    self.delivered.push(command);
                } else if matches!(command, Command::Approve { .. } | Command::Reject { .. }) {
                    self.decisions.push(command);
                }
            }
            Action::Accepted(command) => {
                self.trace.push(format!("{command:?}"));
                self.h
                    .when(command.clone())
                    .map_err(|error| format!("{command:?} was refused: {error}"))?;
            }
            Action::Ignored(command) => {
                self.trace.push(format!("{command:?} (duplicate/stale)"));
                self.expect_nothing(&command)?;
            }
            Action::Refused(command) => {
                self.trace.push(format!("{command:?} (duplicate, refused)"));
                let context = DecisionContext::new(self.h.now, self.h.entropy);
                if let Ok(events) = decide(&self.h.state, &command, context) {
                    return Err(format!(
                        "property 5: duplicate {command:?} was accepted, deciding {:?}",
                        events.iter().map(describe).collect::<Vec<_>>()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Property 5: a duplicate, stale or re-fired command decides no events.
    fn expect_nothing(&mut self, command: &Command) -> Result<(), String> {
        let context = DecisionContext::new(self.h.now, self.h.entropy);
        match decide(&self.h.state, command, context) {
            Ok(events) if events.is_empty() => Ok(()),
            Ok(events) => Err(format!(
                "duplicate/stale {command:?} decided {:?}",
                events.iter().map(describe).collect::<Vec<_>>()
            )),
            Err(error) => Err(format!("duplicate/stale {command:?} was refused: {error}")),
        }
    }
}

fn is_result(command: &Command) -> bool {
    matches!(
        command,
        Command::CompleteStep { .. }
            | Command::FailStep { .. }
            | Command::RecordStepStarted { .. }
            | Command::CompleteCompensation { .. }
            | Command::FailCompensation { .. }
    )
}

fn scheduled_compensations(state: &WorkflowInstance) -> Vec<(usize, u32)> {
    state
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| match step.compensation {
            CompensationState::Scheduled { attempt } => Some((index, attempt)),
            _ => None,
        })
        .collect()
}

fn waiting_approvals(state: &WorkflowInstance) -> Vec<usize> {
    if !state.status.is_active() {
        return Vec::new();
    }
    state
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| matches!(step.waiting(), Some(Waiting::Approval { .. })))
        .map(|(index, _)| index)
        .collect()
}

/// Drives a run to its end; returns the world, or the reason it failed.
fn drive(
    definition: Arc<WorkflowDefinition>,
    input: Value,
    weights: Weights,
    choices: &[Choice],
) -> (World, Result<(), String>) {
    let mut world = World::new(definition);
    world.weights = weights;
    let outcome = drive_world(&mut world, input, choices);
    (world, outcome)
}

fn drive_world(world: &mut World, input: Value, choices: &[Choice]) -> Result<(), String> {
    world.trace.push(format!("StartWorkflow {input}"));
    world
        .h
        .when(Command::StartWorkflow {
            input,
            started_by: "test".to_owned(),
        })
        .map_err(|error| format!("the start was refused: {error}"))?;
    let mut iterations = 0;
    loop {
        if iterations == MAX_ITERATIONS {
            return Err(format!(
                "property 1: no final state after {MAX_ITERATIONS} actions"
            ));
        }
        let choice = choices.get(iterations).copied();
        iterations += 1;
        // A failed instance still records what its steps in flight report:
        // the world goes on answering them.
        let state = world.state();
        let over = state.status.is_final()
            && !(state.status == InstanceStatus::Failed
                && (0..state.steps.len()).any(|index| in_flight(state, index)));
        let action = if over {
            // An operator may bring a failed instance back (half of the
            // time, when a choice is left); else the run is over.
            let operator = choice
                .filter(|choice| choice.kind.is_multiple_of(2))
                .map(|choice| {
                    let category = if choice.flag {
                        Category::OperatorRetry
                    } else {
                        Category::OperatorSkip
                    };
                    world.operator(category, choice.target)
                });
            match operator.flatten() {
                Some(
                    action @ Action::Accepted(Command::RetryStep { .. } | Command::SkipStep { .. }),
                ) => Some(action),
                _ => break,
            }
        } else {
            match choice {
                Some(choice) => match world.chosen(choice) {
                    Some(action) => Some(action),
                    None => world.benign(Some(choice.target)),
                },
                None => world.benign(None),
            }
        };
        let Some(action) = action else {
            return Err(format!(
                "property 1: stuck in {} with nothing left to do",
                world.state().status
            ));
        };
        world.perform(action)?;
    }
    // After the end: every duplicate, stale delivery and timer is ignored.
    let leftovers: Vec<Command> = world
        .delivered
        .iter()
        .cloned()
        .chain(world.fired.iter().cloned().map(Command::FireTimer))
        .chain(
            world
                .h
                .timers
                .iter()
                .map(|(_, timer)| Command::FireTimer(timer.clone())),
        )
        .collect();
    for command in leftovers {
        world.expect_nothing(&command)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Checks on the history

fn satisfies_needs(state: &WorkflowInstance, index: usize) -> bool {
    let step = &state.steps[index];
    match step.status() {
        StepStatus::Completed => true,
        StepStatus::Skipped => step.skip_reason() == Some(&SkipReason::Operator),
        StepStatus::Failed => state.definition.steps[index].on_error == OnError::Continue,
        _ => false,
    }
}

fn is_settled(state: &WorkflowInstance, index: usize) -> bool {
    state.steps[index].status() == StepStatus::Skipped || satisfies_needs(state, index)
}

fn check_history(world: &World) -> Result<(), String> {
    let h = &world.h;
    let definition = h.state.definition.clone();
    let history = &h.history;

    // Property 6: JSON round trip.
    for event in history {
        let text = serde_json::to_string(event).map_err(|error| error.to_string())?;
        let back: Event = serde_json::from_str(&text)
            .map_err(|error| format!("property 6: {text} does not read back: {error}"))?;
        if &back != event {
            return Err(format!("property 6: {text} reads back as {back:?}"));
        }
    }

    // When each step's compensation completed, if it did.
    let mut undone_at: Vec<Option<usize>> = vec![None; definition.steps.len()];
    for (position, event) in history.iter().enumerate() {
        if let Event::CompensationCompleted { step, .. } | Event::CompensationSkipped { step } =
            event
        {
            let index = definition.step_index(step.as_str()).unwrap_or(usize::MAX);
            undone_at[index].get_or_insert(position);
        }
    }

    let mut replay = WorkflowInstance::new(h.state.id, definition.clone());
    let mut compensations_completed = vec![0u32; definition.steps.len()];
    // Operator retries allow one attempt more than the policy each.
    let mut step_retries = vec![0u32; definition.steps.len()];
    let mut compensation_retries = vec![0u32; definition.steps.len()];
    for (position, event) in history.iter().enumerate() {
        let index = event
            .step()
            .and_then(|step| definition.step_index(step.as_str()));
        let at = || format!("at event {position} ({})", describe(event));
        // After a final event: an operator's retry or skip, or (in a failed
        // instance) the outcome of a step still in flight.
        if replay.status.is_final() {
            let revival = matches!(
                event,
                Event::StepRetryRequested { .. }
                    | Event::CompensationRetryRequested { .. }
                    | Event::CompensationSkipped { .. }
                    | Event::StepSkipped {
                        reason: SkipReason::Operator,
                        ..
                    }
            );
            let outcome = matches!(
                event,
                Event::StepStarted { .. }
                    | Event::StepCompleted { .. }
                    | Event::StepFailed { .. }
                    | Event::StepTimedOut { .. }
            ) && replay.status == InstanceStatus::Failed
                && index.is_some_and(|index| in_flight(&replay, index));
            if !revival && !outcome {
                return Err(format!("{} after the instance was {}", at(), replay.status));
            }
        }
        match (event, index) {
            (Event::StepRetryRequested { .. }, Some(index)) => step_retries[index] += 1,
            (Event::CompensationRetryRequested { .. }, Some(index)) => {
                compensation_retries[index] += 1;
            }
            // Property 2: scheduled only when the needs are settled, by the join.
            (
                Event::StepScheduled { attempt, .. } | Event::ApprovalRequested { attempt, .. },
                Some(index),
            ) => {
                let bound = definition.steps[index].retry.max_attempts + step_retries[index];
                if *attempt != replay.steps[index].attempt + 1 || *attempt > bound {
                    return Err(format!(
                        "{}: attempt after {} (bound {bound})",
                        at(),
                        replay.steps[index].attempt
                    ));
                }
                if replay.status != InstanceStatus::Running {
                    return Err(format!(
                        "property 2: {} scheduled while {}",
                        at(),
                        replay.status
                    ));
                }
                let step = &definition.steps[index];
                let ready = match step.join {
                    Join::All => step
                        .needs
                        .iter()
                        .all(|&need| satisfies_needs(&replay, need)),
                    Join::Any => {
                        step.needs.iter().all(|&need| is_settled(&replay, need))
                            && step
                                .needs
                                .iter()
                                .any(|&need| satisfies_needs(&replay, need))
                    }
                };
                if !ready {
                    let needs: Vec<String> = step
                        .needs
                        .iter()
                        .map(|&need| {
                            format!(
                                "{}={}",
                                definition.steps[need].id,
                                replay.steps[need].status()
                            )
                        })
                        .collect();
                    return Err(format!(
                        "property 2: {} before its needs were settled: {}",
                        at(),
                        needs.join(", ")
                    ));
                }
            }
            (
                Event::StepSkipped {
                    reason: SkipReason::UpstreamSkipped { need },
                    ..
                },
                Some(index),
            ) => {
                let need_index = definition.step_index(need.as_str());
                let valid = need_index.is_some_and(|need| {
                    definition.steps[index].needs.contains(&need)
                        && replay.steps[need].status() == StepStatus::Skipped
                });
                if !valid {
                    return Err(format!(
                        "property 2: {} names a need that was not skipped",
                        at()
                    ));
                }
            }
            // Property 3: only completed steps, in saga order.
            (Event::CompensationScheduled { attempt, .. }, Some(index)) => {
                let policy = definition.steps[index].compensate.as_ref().map(|c| c.retry);
                let bound =
                    policy.map_or(0, |policy| policy.max_attempts) + compensation_retries[index];
                if *attempt != replay.steps[index].compensation_attempt + 1 || *attempt > bound {
                    return Err(format!(
                        "property 3: {}: attempt after {} (bound {bound})",
                        at(),
                        replay.steps[index].compensation_attempt
                    ));
                }
                if replay.status != InstanceStatus::Compensating {
                    return Err(format!("property 3: {} while {}", at(), replay.status));
                }
                if !needs_undoing(&replay, index) {
                    return Err(format!(
                        "property 3: {} but the step is {} ({:?})",
                        at(),
                        replay.steps[index].status(),
                        replay.steps[index].compensation
                    ));
                }
                for dependant in definition.descendants(index).iter() {
                    let name = &definition.steps[dependant].id;
                    if in_flight(&replay, dependant) || needs_undoing(&replay, dependant) {
                        return Err(format!(
                            "property 3: {} while its dependant {name} is {} ({:?})",
                            at(),
                            replay.steps[dependant].status(),
                            replay.steps[dependant].compensation
                        ));
                    }
                    if undone_at[dependant].is_some_and(|undone| undone > position) {
                        return Err(format!(
                            "property 3: {} before its dependant {name} was undone",
                            at()
                        ));
                    }
                }
            }
            (Event::CompensationCompleted { .. }, Some(index)) => {
                compensations_completed[index] += 1;
                if compensations_completed[index] > 1 {
                    return Err(format!("property 3: {} a second time", at()));
                }
                if !matches!(
                    replay.steps[index].compensation,
                    CompensationState::Scheduled { .. }
                ) {
                    return Err(format!(
                        "property 3: {} but it was {:?}",
                        at(),
                        replay.steps[index].compensation
                    ));
                }
            }
            (Event::WorkflowCompensated, _) => {
                let left: Vec<String> = (0..definition.steps.len())
                    .filter(|&index| needs_undoing(&replay, index))
                    .map(|index| definition.steps[index].id.to_string())
                    .collect();
                if !left.is_empty() {
                    return Err(format!("property 3: {} with {left:?} not undone", at()));
                }
            }
            _ => {}
        }
        replay = evolve(replay, event);
    }

    if !replay.status.is_final() {
        return Err(format!("property 1: the history ends {}", replay.status));
    }

    // Property 4: the replay is the harness' state.
    let state = &h.state;
    if replay.status != state.status {
        return Err(format!(
            "property 4: replayed status {} != {}",
            replay.status, state.status
        ));
    }
    for (index, (replayed, live)) in replay.steps.iter().zip(&state.steps).enumerate() {
        if replayed != live {
            return Err(format!(
                "property 4: step {} replays as {replayed:?}, is {live:?}",
                definition.steps[index].id
            ));
        }
    }
    let same = replay.output == state.output
        && replay.error == state.error
        && replay.cause == state.cause
        && replay.input == state.input
        && replay.cancel_requested == state.cancel_requested
        && replay.version == state.version
        && replay.version == history.len() as u64;
    if !same {
        return Err("property 4: the replayed instance differs".to_owned());
    }
    Ok(())
}

fn run_case(case: &Case) -> Result<(), TestCaseError> {
    let yaml = case.yaml();
    let definition = match parse_workflow(&yaml) {
        Ok(definition) => Arc::new(definition),
        Err(problems) => {
            return Err(TestCaseError::fail(format!(
                "generated an invalid workflow:\n{problems}\n{yaml}"
            )));
        }
    };
    let input = case.input();
    let (world, outcome) = drive(definition, input.clone(), case.weights, &case.choices);
    let outcome = outcome.and_then(|()| check_history(&world));
    outcome
        .map_err(|reason| TestCaseError::fail(format!("{reason}\n{}", world.report(&yaml, &input))))
}

proptest! {
    #![proptest_config(ProptestConfig {
        // No regressions file next to the test: failures print the workflow
        // and the commands instead.
        failure_persistence: None,
        ..ProptestConfig::with_cases(128)
    })]

    #[test]
    fn random_workflows_in_a_random_world(case in case_gen(30, 300)) {
        run_case(&case)?;
    }
}

// ---------------------------------------------------------------------------
// Regressions: cases the properties found, kept as plain tests.

/// `join: any` on a step without needs used to make `decide` panic (the
/// readiness of `join: any` named `needs[0]` as the skipped need). Refusing
/// the definition, or running the step like any root step, are both fine.
#[test]
fn join_any_without_needs_does_not_panic() {
    let yaml =
        "name: prop\nversion: 1\nsteps:\n  s0:\n    type: task\n    queue: q\n    join: any\n";
    let Ok(definition) = parse_workflow(yaml) else {
        return;
    };
    let mut h = Harness::new(Arc::new(definition));
    assert_eq!(
        h.start(json!({})),
        ["WorkflowStarted", "StepScheduled s0#1"]
    );
}

/// Whether a live instance is left with nothing that could move it: no
/// attempt or compensation in flight, no approval pending, and no timer
/// that decides anything.
fn is_stuck(h: &Harness) -> bool {
    let state = &h.state;
    let context = DecisionContext::new(h.now, h.entropy);
    !state.status.is_final()
        && (0..state.steps.len()).all(|index| !in_flight(state, index))
        && scheduled_compensations(state).is_empty()
        && waiting_approvals(state).is_empty()
        && h.timers.iter().all(|(_, timer)| {
            decide(state, &Command::FireTimer(timer.clone()), context)
                .is_ok_and(|events| events.is_empty())
        })
}

const TOLERATED_AND_FATAL: &str = "
name: prop
version: 1
steps:
  a: { type: task, queue: q, on_error: continue, retry: { max_attempts: 1 } }
  b: { type: task, queue: q, on_error: fail, retry: { max_attempts: 1 } }
";

/// An instance failed by `b` (`on_error: fail`) also holds `a`, which failed
/// with `on_error: continue`. An operator's `skip` of `a` used to bring the
/// instance back to `running` with `b` still failed: nothing was ever
/// scheduled again and the instance never reached a final state.
#[test]
fn operator_skip_of_a_tolerated_failure_does_not_strand_the_instance() {
    let mut h = Harness::from_yaml(TOLERATED_AND_FATAL);
    h.start(json!({}));
    assert_eq!(h.fail("a", false), ["StepFailed a#1"]);
    assert_eq!(h.fail("b", false), ["StepFailed b#1", "WorkflowFailed"]);
    let skip = Command::SkipStep {
        step: "a".into(),
        output: json!({}),
    };
    // Refusing the skip is fine; accepting it must not strand the instance.
    if h.when(skip).is_ok() {
        assert!(
            !is_stuck(&h),
            "stuck in {} after {:?}",
            h.state.status,
            h.described_history()
        );
    }
}

/// The same with an operator's `retry` of `a`.
#[test]
fn operator_retry_of_a_tolerated_failure_does_not_strand_the_instance() {
    let mut h = Harness::from_yaml(TOLERATED_AND_FATAL);
    h.start(json!({}));
    h.fail("a", false);
    h.fail("b", false);
    if h.when(Command::RetryStep { step: "a".into() }).is_ok() {
        assert_eq!(h.complete("a", json!({})), ["StepCompleted a#2"]);
        assert!(
            !is_stuck(&h),
            "stuck in {} after {:?}",
            h.state.status,
            h.described_history()
        );
    }
}

/// While an instance was `failed` (by `on_error: fail`), the results of the
/// attempts still in flight, and their deadline timers, used to decide
/// nothing: they were dropped although the worker had answered. After an
/// operator's `retry` of the failed step, `b` stayed `scheduled` forever.
#[test]
fn results_that_arrive_while_failed_are_not_lost() {
    let mut h = Harness::from_yaml(
        "
name: prop
version: 1
steps:
  a: { type: task, queue: q, on_error: fail, retry: { max_attempts: 1 } }
  b: { type: task, queue: q }
",
    );
    h.start(json!({}));
    assert_eq!(h.fail("a", false), ["StepFailed a#1", "WorkflowFailed"]);
    // b's worker answers now; the engine consumes the message.
    let answered = h.complete("b", json!({ "done": true }));
    h.then(Command::RetryStep { step: "a".into() });
    h.complete("a", json!({}));
    assert!(
        h.state.status.is_final() || h.state.steps[1].status() != StepStatus::Scheduled,
        "b answered while failed ({answered:?}), and after the retry the instance is {} \
         with b {} forever: {:?}",
        h.state.status,
        h.state.steps[1].status(),
        h.described_history()
    );
}
