//! DisTorch's use cases and the ports they need (event store, task queue,
//! timers, clock). Empty until the durable-execution work: the pure engine
//! in `domain` is all this slice needs, and ports without an adapter to
//! test them against would only guess at their shape.
