//! Starting workflows as callers ask for it: one, or a batch of them all or
//! none, each optionally under an idempotency key. A repeated request with
//! the same key returns the workflow the first one started; another request
//! under that key is refused.

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::{Command, DecisionContext, WorkflowInstance, decide};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::engine::deciding;
use crate::ports::{DefinitionStore, EventStore, IdempotencyKeys};
use crate::{Engine, Error, Origin, catalog};

/// The most workflows one batch starts.
pub const MAX_BATCH: usize = 100;

/// A workflow to start.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Start {
    /// The definition's name.
    pub definition: String,
    /// Its version; the latest when absent.
    pub version: Option<u32>,
    /// Checked against the definition's input schema.
    pub input: Value,
    /// When to start; at once when absent or not in the future. Left out of
    /// the JSON when absent, so fingerprints stored before stay valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<DateTime<Utc>>,
}

/// A caller's key for a start: 1 to [`IdempotencyKey::MAX_LEN`] bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// The key, unless it is empty or too long.
    pub fn parse(key: &str) -> Option<Self> {
        (!key.is_empty() && key.len() <= Self::MAX_LEN).then(|| Self(key.to_owned()))
    }

    /// The key of a batch's start at `index`.
    fn of_item(&self, index: usize) -> Self {
        Self(format!("{}#{index}", self.0))
    }
}

/// Why starts were refused.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a batch starts 1 to {MAX_BATCH} workflows, not {0}")]
    BatchSize(usize),
    /// Each refused start of a batch by its index; none started.
    #[error("{} of the batch's workflows were refused; none started", .0.len())]
    Refused(Vec<(usize, Error)>),
    #[error("this Idempotency-Key was used before with a different request")]
    KeyReused,
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Starts a workflow; under a key, at most once.
pub async fn start<S, R>(
    engine: &Engine<S>,
    read_models: &R,
    start: &Start,
    key: Option<&IdempotencyKey>,
    origin: &Origin,
) -> Result<InstanceId, StartError>
where
    S: EventStore,
    R: DefinitionStore + IdempotencyKeys,
{
    match key {
        // A refused start must not hold its key.
        Some(_) => check(engine, read_models, start).await?,
        None => known(engine, read_models, start).await?,
    }
    start_one(engine, read_models, start, key, origin).await
}

/// Starts every workflow of the batch, or none when any is refused: all are
/// checked (definition, input) before the first starts. Should the store
/// fail midway, the same batch under the same key finishes it without
/// starting any workflow twice.
pub async fn start_batch<S, R>(
    engine: &Engine<S>,
    read_models: &R,
    starts: &[Start],
    key: Option<&IdempotencyKey>,
    origin: &Origin,
) -> Result<Vec<InstanceId>, StartError>
where
    S: EventStore,
    R: DefinitionStore + IdempotencyKeys,
{
    if starts.is_empty() || starts.len() > MAX_BATCH {
        return Err(StartError::BatchSize(starts.len()));
    }
    let mut refused = Vec::new();
    for (index, start) in starts.iter().enumerate() {
        if let Err(error) = check(engine, read_models, start).await {
            refused.push((index, error));
        }
    }
    if !refused.is_empty() {
        return Err(StartError::Refused(refused));
    }
    let mut ids = Vec::with_capacity(starts.len());
    for (index, start) in starts.iter().enumerate() {
        let key = key.map(|key| key.of_item(index));
        ids.push(start_one(engine, read_models, start, key.as_ref(), origin).await?);
    }
    Ok(ids)
}

/// Makes sure this node knows the definition: one deployed on another node
/// since this one started is loaded first.
async fn known<S: EventStore>(
    engine: &Engine<S>,
    read_models: &impl DefinitionStore,
    start: &Start,
) -> Result<(), Error> {
    let registry = engine.definitions();
    if registry.get(&start.definition, start.version).is_err() {
        catalog::load_stored(registry, read_models).await?;
    }
    registry.get(&start.definition, start.version).map(drop)
}

/// Refuses a start that cannot succeed: an unknown definition, or one the
/// domain refuses (an input its schema rejects), decided on a fresh
/// instance without storing anything.
pub(crate) async fn check<S: EventStore>(
    engine: &Engine<S>,
    read_models: &impl DefinitionStore,
    start: &Start,
) -> Result<(), Error> {
    known(engine, read_models, start).await?;
    let definition = engine.definitions().get(&start.definition, start.version)?;
    let fresh = WorkflowInstance::new(InstanceId(Uuid::nil()), definition);
    let command = Command::StartWorkflow {
        input: start.input.clone(),
        started_by: String::new(),
        start_at: start.start_at,
    };
    let context = DecisionContext::new(engine.clock().now(), 0);
    deciding(&fresh.definition, || decide(&fresh, &command, context))?;
    Ok(())
}

/// Starts a workflow checked before; under a key, the workflow the key's
/// first request started.
async fn start_one<S: EventStore>(
    engine: &Engine<S>,
    keys: &impl IdempotencyKeys,
    start: &Start,
    key: Option<&IdempotencyKey>,
    origin: &Origin,
) -> Result<InstanceId, StartError> {
    let (definition, version, input) = (&start.definition, start.version, start.input.clone());
    let start_at = start.start_at;
    let Some(IdempotencyKey(key)) = key else {
        let id = InstanceId(Uuid::now_v7());
        let at = start_at;
        engine
            .start_as(id, definition, version, input, at, origin)
            .await?;
        return Ok(id);
    };
    let fingerprint = fingerprint(start);
    let fresh = InstanceId(Uuid::now_v7());
    let (id, recorded) = keys.claim_key(key, fresh, &fingerprint).await?;
    if recorded != fingerprint {
        return Err(StartError::KeyReused);
    }
    match engine
        .start_as(id, definition, version, input, start_at, origin)
        .await
    {
        // `Conflict`: started by the first request with this key.
        Ok(()) | Err(Error::Conflict { .. }) => Ok(id),
        Err(error) => {
            if id == fresh {
                keys.release_key(key).await?;
            }
            Err(error.into())
        }
    }
}

/// FNV-1a of the start's JSON: the same request gives the same fingerprint
/// (and the fingerprints stored before stay valid: keep the field order).
fn fingerprint(start: &Start) -> String {
    let text = serde_json::to_string(start).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_1_to_255_bytes() {
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
    }

    #[test]
    fn the_fingerprint_is_the_one_stored_before() {
        let start = Start {
            definition: "order".into(),
            version: None,
            input: json!({"amount": 5}),
            start_at: None,
        };
        let text = serde_json::to_string(&start).unwrap();
        assert_eq!(
            text,
            r#"{"definition":"order","version":null,"input":{"amount":5}}"#
        );
        assert_eq!(fingerprint(&start), fingerprint(&start.clone()));
    }
}
