//! Ports: what the use cases need from the outside world, as traits the
//! infrastructure implements.

mod api_keys;
mod bus;
mod event_store;
mod fleet;
mod insights;
mod log_head;
mod probes;
mod read_models;
mod schedules;
mod work_queues;

pub use api_keys::{ApiKeyRecord, ApiKeyStore};
pub use bus::{Bus, Delivery, Subscription, TaskHandout};

pub use event_store::{
    APPENDED_OUTBOX_LEASE, AppendOutcome, AppendRequest, EventStore, Metadata, NewEvent,
    OutboxMessage, RecordedEvent, ScheduledTimer,
};
pub use fleet::{WorkerChannel, WorkerRegistry};
pub use insights::{
    InsightQueries, MinuteCount, StepFigureRow, WaitingApprovalRow, WaitingStepRow,
};
pub use log_head::LogHead;
pub use probes::{
    BoxFuture, BrokerProbe, ByDefinition, Check, StoreProbe, StoreSample, WaitingSteps,
};
pub use read_models::{
    ApplyOutcome, Bottleneck, DefinitionDurations, DefinitionStore, DurationStats, IdempotencyKeys,
    ProjectionBatch, ProjectionWriter, ReadModelQueries, StatusCount, StepDurations, StepRow,
    StoredDefinition, WorkflowFilter, WorkflowRow,
};
pub use schedules::{RoundOutcome, ScheduleRecord, ScheduleStore};
pub use work_queues::{DueTimer, OutboxQueue, PendingMessage, TimerQueue};
