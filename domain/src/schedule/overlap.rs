//! What a tick does when the schedule's previous workflow is still running.

use serde::{Deserialize, Serialize};

/// The overlap policy of a schedule.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// The tick is skipped (the default).
    #[default]
    Skip,
    /// One tick waits, and starts when the previous workflow ends; more
    /// ticks meanwhile are skipped.
    BufferOne,
    /// Every tick starts a workflow, whatever runs.
    Allow,
    /// The previous workflow is cancelled (with compensation), and the tick
    /// starts a new one.
    CancelPrevious,
}

impl OverlapPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::BufferOne => "buffer_one",
            Self::Allow => "allow",
            Self::CancelPrevious => "cancel_previous",
        }
    }

    /// The policy of that name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Skip,
            Self::BufferOne,
            Self::Allow,
            Self::CancelPrevious,
        ]
        .into_iter()
        .find(|policy| policy.as_str() == name)
    }

    /// What a tick does. `previous_running`: the schedule's last workflow
    /// has not ended; `buffered`: a tick already waits for it.
    pub fn on_tick(self, previous_running: bool, buffered: bool) -> TickAction {
        match (self, previous_running, buffered) {
            (Self::Allow, _, _) | (_, false, _) => TickAction::Start,
            (Self::Skip, true, _) | (Self::BufferOne, true, true) => TickAction::Skip,
            (Self::BufferOne, true, false) => TickAction::Buffer,
            (Self::CancelPrevious, true, _) => TickAction::CancelPreviousThenStart,
        }
    }
}

/// What one tick does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickAction {
    Start,
    Skip,
    Buffer,
    CancelPreviousThenStart,
}
