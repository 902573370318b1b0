//! The live view of a workflow as `run`, `workflows watch` and `start
//! --follow` show it: on a terminal a line per step with its status, redrawn
//! as the workflow moves; off a terminal a plain line per event.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::instance::{CompensationState, Event, Waiting, WorkflowInstance};

pub struct LiveView {
    bars: Option<Progress>,
}

struct Progress {
    bars: indicatif::MultiProgress,
    steps: Vec<indicatif::ProgressBar>,
}

impl LiveView {
    /// Step lines when stderr is a terminal, else event lines.
    pub fn new(definition: &domain::WorkflowDefinition) -> Self {
        Self {
            bars: std::io::stderr()
                .is_terminal()
                .then(|| Progress::new(definition)),
        }
    }

    /// An event that happened (printed as a line off a terminal).
    pub fn event(&self, at: DateTime<Utc>, event: &Event) {
        if self.bars.is_none() {
            eprintln!("{}  {}", at.format("%H:%M:%S%.3f"), event.summary());
        }
    }

    /// The state after the events shown (drawn on a terminal).
    pub fn state(&self, state: &WorkflowInstance) {
        if let Some(progress) = &self.bars {
            progress.show(state);
        }
    }

    /// Runs `write` without drawing over what it writes (a prompt, a line
    /// a worker wrote).
    pub fn suspend<T>(&self, write: impl FnOnce() -> T) -> T {
        match &self.bars {
            Some(progress) => progress.bars.suspend(write),
            None => write(),
        }
    }

    /// Leaves the last state drawn.
    pub fn finish(&self) {
        if let Some(progress) = &self.bars {
            progress
                .steps
                .iter()
                .for_each(indicatif::ProgressBar::finish);
        }
    }
}

impl Progress {
    fn new(definition: &domain::WorkflowDefinition) -> Self {
        let bars =
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:<24} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        let width = definition
            .steps
            .iter()
            .map(|step| step.id.as_str().len())
            .max()
            .unwrap_or(0);
        let steps = definition
            .steps
            .iter()
            .map(|step| {
                let bar = bars.add(indicatif::ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(format!("{:<width$}", step.id.as_str()));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .collect();
        Self { bars, steps }
    }

    fn show(&self, state: &WorkflowInstance) {
        for (bar, step) in self.steps.iter().zip(&state.steps) {
            let mut line = step.status().to_string();
            if step.attempt > 1 {
                line.push_str(&format!(" (attempt {})", step.attempt));
            }
            match step.waiting() {
                Some(Waiting::Approval { .. }) => line.push_str(": waiting for an approval"),
                Some(Waiting::Signal { .. }) => line.push_str(": waiting for a signal"),
                Some(Waiting::Retry { at, .. }) => {
                    line.push_str(&format!(": retry at {}", at.format("%H:%M:%S")));
                }
                Some(Waiting::Timer { until }) => {
                    line.push_str(&format!(": until {}", until.format("%H:%M:%S")));
                }
                None => {}
            }
            if let Some(error) = step.error_message() {
                line.push_str(&format!(" — {error}"));
            }
            if let Some(undo) = undo(&step.compensation) {
                line.push_str(&format!(", undo: {undo}"));
            }
            bar.set_message(line);
        }
    }
}

/// Where a step's compensation is, in words; `None` before it started.
fn undo(compensation: &CompensationState) -> Option<String> {
    Some(match compensation {
        CompensationState::NotStarted => return None,
        CompensationState::Scheduled { attempt } => format!("scheduled (attempt {attempt})"),
        CompensationState::Retrying { attempt, at } => {
            format!("retry {attempt} at {}", at.format("%H:%M:%S"))
        }
        CompensationState::Completed => "completed".to_owned(),
        CompensationState::Failed { attempt } => format!("failed (attempt {attempt})"),
        CompensationState::Skipped => "skipped".to_owned(),
    })
}
