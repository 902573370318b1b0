//! DisTorch's adapters of the application's ports: the PostgreSQL and SQLite
//! stores (events with their outbox and timers, read models, API keys), the
//! RabbitMQ and in-process buses, and the exec and HTTP executors. Their
//! failures reach the application sorted: out of reach (`Unavailable`) or a
//! fault (`Internal`), with the cause kept.

pub mod bus;
pub mod exec;
pub mod http;
pub mod local_bus;
pub mod store;
