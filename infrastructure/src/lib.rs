//! DisTorch's adapters: PostgreSQL and SQLite event stores, the RabbitMQ and
//! in-process buses, the HTTP executor. Empty until the durable-execution work.
