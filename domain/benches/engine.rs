//! The numbers of the engine issue: validating a 1,000-step workflow, a full
//! run of a 50-step workflow through decide/evolve, and replaying a
//! 10,000-event history. `cargo bench -p domain --bench engine`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::instance::{
    Command, DecisionContext, Event, StepError, WorkflowInstance, decide, evolve,
};
use domain::testkit::generated_workflow;
use domain::{InstanceId, StepId, parse_workflow};
use serde_json::json;

fn context() -> DecisionContext {
    DecisionContext::new(chrono::DateTime::UNIX_EPOCH, 42)
}

/// Runs an instance to its end: every dispatched step completes (after
/// failing once when `fail_first`), retry timers fire at once.
fn run(
    definition: &Arc<domain::WorkflowDefinition>,
    fail_first: bool,
) -> (WorkflowInstance, Vec<Event>) {
    let mut state = WorkflowInstance::new(InstanceId(uuid::Uuid::nil()), definition.clone());
    let mut history = Vec::new();
    let mut pending = vec![Command::StartWorkflow {
        input: json!({"amount": 5}),
        started_by: "bench".into(),
        start_at: None,
    }];
    while let Some(command) = pending.pop() {
        let events = decide(&state, &command, context()).expect("accepted");
        for event in events {
            match &event {
                Event::StepScheduled { step, attempt, .. } => {
                    pending.push(if fail_first && *attempt == 1 {
                        Command::FailStep {
                            step: step.clone(),
                            attempt: 1,
                            error: StepError::retryable("once"),
                        }
                    } else {
                        Command::CompleteStep {
                            step: step.clone(),
                            attempt: *attempt,
                            output: json!({"id": 1}),
                        }
                    })
                }
                Event::StepRetryScheduled { step, attempt, .. } => {
                    pending.push(Command::FireTimer(domain::instance::Timer::StepRetry {
                        step: step.clone(),
                        attempt: *attempt,
                    }));
                }
                _ => {}
            }
            state = evolve(state, &event);
            history.push(event);
        }
    }
    (state, history)
}

fn benches(c: &mut Criterion) {
    let thousand = generated_workflow(1000);
    c.bench_function("validate 1,000-step workflow", |b| {
        b.iter(|| parse_workflow(black_box(&thousand)).expect("valid"))
    });

    let fifty = Arc::new(parse_workflow(&generated_workflow(50)).expect("valid"));
    c.bench_function("run 50-step workflow (decide+evolve)", |b| {
        b.iter(|| {
            let (state, _) = run(black_box(&fifty), false);
            assert!(state.status.is_final());
        })
    });

    let big = Arc::new(parse_workflow(&generated_workflow(2000)).expect("valid"));
    let (_, history) = run(&big, true);
    assert!(
        history.len() >= 10_000,
        "history has {} events",
        history.len()
    );
    let history = &history[..10_000];
    c.bench_function("replay 10,000 events", |b| {
        b.iter(|| {
            let mut state = WorkflowInstance::new(InstanceId(uuid::Uuid::nil()), big.clone());
            for event in black_box(history) {
                state = evolve(state, event);
            }
            state
        })
    });
    let _ = StepId::from("unused");
}

criterion_group!(engine, benches);
criterion_main!(engine);
