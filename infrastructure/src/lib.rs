//! DisTorch's adapters: the PostgreSQL and SQLite event stores (more to come:
//! the RabbitMQ and in-process buses, the HTTP executor).

pub mod bus;
pub mod exec;
pub mod http;
pub mod local_bus;
pub mod store;
