//! The read-model projection as a pure function: each event of the global
//! log becomes row changes that the store's projection writer applies. The
//! rows hold the facts of the events (their times from the event metadata),
//! so a rebuild from the log comes out identical.

mod change;
mod changes_of;
mod lag;
mod projector;

pub use change::{Change, ChangeKind, NewStep, StepChange};
pub use changes_of::changes_of;
pub use lag::{ProjectionLag, ProjectionProbe, READ_MODELS, ReadModelLag};
pub use projector::{Projector, Round};
