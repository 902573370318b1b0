//! Prometheus metrics: the registry, the store decorator that counts what a
//! node appends, the worker's executor decorator, and the scrape-time view
//! of the database and broker behind `/metrics` and `/health/ready`.

mod executor;
mod families;
mod metered_store;
mod observe;
mod prime;
mod registry;
mod telemetry;

pub use executor::MeteredExecutor;
pub use families::{Counter, FloatGauge, IntGauge, Labelled, Reported};
pub use metered_store::MeteredStore;
pub use observe::Observed;
pub use registry::Metrics;
pub use telemetry::{Readiness, Telemetry};
