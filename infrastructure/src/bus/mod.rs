//! Message buses: the RabbitMQ adapter of the `Bus` port, its topology, and
//! the supervisor that keeps it connected.

mod dead_letters;
mod error;
mod handout;
mod presence;
mod probe;
mod rabbit;
mod rpc;
mod session;
mod subscription;
mod supervisor;
mod topology;

pub use rabbit::{RabbitBus, RabbitConfig};
pub use subscription::{RabbitDelivery, RabbitSubscription};
pub use topology::{
    DEAD_LETTER_EXCHANGE, RESULTS, RESULTS_DEAD_LETTER_QUEUE, TASKS_EXCHANGE, WORKERS,
    control_queue, dead_letter_queue, declare_topology, task_queue,
};

use error::{failed, unwritable};
use rpc::rpc;
