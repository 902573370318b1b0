//! The instance aggregate.
