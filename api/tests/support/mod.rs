//! What the API's tests share: a node's API in-process on a real
//! PostgreSQL ([`App`]) and a client of its Server-Sent Events
//! ([`SseClient`]). Each test binary compiles this module on its own and
//! uses some of it.

#![allow(dead_code, unused_imports)]

mod app;
mod definitions;
mod sse;

pub use app::App;
pub use definitions::{DEFINITIONS, EXPENSE};
pub use sse::{Received, SseClient};
