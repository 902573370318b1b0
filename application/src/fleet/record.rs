//! What the engine keeps about a worker, and its status, derived from the
//! record and the time: a worker unheard of for [`OFFLINE_AFTER`] is
//! offline, whatever it said last.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How often a worker announces itself.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// A worker unheard of for this long is offline (three heartbeats missed):
/// a worker that dies shows offline 30 to 40 s later, within the promised
/// 60 s.
pub const OFFLINE_AFTER: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerStatus {
    Idle,
    Busy,
    Draining,
    Offline,
}

impl WorkerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Busy => "busy",
            Self::Draining => "draining",
            Self::Offline => "offline",
        }
    }

    pub const ALL: [Self; 4] = [Self::Idle, Self::Busy, Self::Draining, Self::Offline];
}

/// How the worker reaches the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Presence messages on RabbitMQ (or the embedded bus).
    Bus,
    /// Seen by its HTTP long polls.
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bus => "bus",
            Self::Http => "http",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bus" => Some(Self::Bus),
            "http" => Some(Self::Http),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkerRecord {
    pub id: String,
    pub name: String,
    pub host: String,
    pub version: String,
    pub transport: Transport,
    pub queues: Vec<String>,
    pub capacity: u32,
    pub in_flight: Vec<String>,
    pub completed: u64,
    pub failed: u64,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Asked to drain (by an operator or by itself); never cleared.
    pub draining: bool,
    /// Said goodbye.
    pub gone: bool,
}

impl WorkerRecord {
    pub fn status(&self, now: DateTime<Utc>) -> WorkerStatus {
        let silent = (now - self.last_seen).to_std().unwrap_or_default();
        if self.gone || silent > OFFLINE_AFTER {
            WorkerStatus::Offline
        } else if self.draining {
            WorkerStatus::Draining
        } else if self.in_flight.is_empty() {
            WorkerStatus::Idle
        } else {
            WorkerStatus::Busy
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: DateTime<Utc>) -> WorkerRecord {
        WorkerRecord {
            id: "w".into(),
            name: "w".into(),
            host: "h".into(),
            version: "1".into(),
            transport: Transport::Bus,
            queues: vec!["q".into()],
            capacity: 1,
            in_flight: Vec::new(),
            completed: 0,
            failed: 0,
            started_at: at,
            last_seen: at,
            draining: false,
            gone: false,
        }
    }

    #[test]
    fn a_worker_is_offline_once_silent_longer_than_the_limit_or_gone() {
        let at = Utc::now();
        let worker = record(at);
        let limit = chrono::Duration::from_std(OFFLINE_AFTER).unwrap();
        assert_eq!(worker.status(at + limit), WorkerStatus::Idle);
        let late = at + limit + chrono::Duration::seconds(1);
        assert_eq!(worker.status(late), WorkerStatus::Offline);
        let gone = WorkerRecord {
            gone: true,
            ..record(at)
        };
        assert_eq!(gone.status(at), WorkerStatus::Offline);
    }

    #[test]
    fn draining_wins_over_busy_and_busy_means_tasks_in_flight() {
        let at = Utc::now();
        let busy = WorkerRecord {
            in_flight: vec!["t".into()],
            ..record(at)
        };
        assert_eq!(busy.status(at), WorkerStatus::Busy);
        let draining = WorkerRecord {
            draining: true,
            ..busy
        };
        assert_eq!(draining.status(at), WorkerStatus::Draining);
    }
}
