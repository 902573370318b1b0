//! `/api/v1/definitions`: deploy a definition (YAML or JSON), list them,
//! read one's versions, source and graph.

use std::sync::Arc;

use application::catalog::{self, DeployError};
use application::ports::StoredDefinition;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ApiError, App, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new()
        .route("/", get(list::<S, R>).post(deploy::<S, R>))
        .route("/{name}", get(show::<S, R>))
        .route("/{name}/versions/{version}", get(version::<S, R>))
}

async fn deploy<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    source: String,
) -> Result<impl IntoResponse, ApiError> {
    let definition = catalog::deploy(app.engine.definitions(), &app.read_models, &source)
        .await
        .map_err(|error| match error {
            DeployError::Invalid(problems) => ApiError::Unprocessable {
                detail: format!("the definition has {} problems", problems.len()),
                problems: problems
                    .iter()
                    .map(|problem| serde_json::to_value(problem).unwrap_or(Value::Null))
                    .collect(),
            },
            DeployError::Refused(application::Error::Invalid { reason }) => {
                ApiError::Conflict(reason)
            }
            DeployError::Refused(error) => error.into(),
        })?;
    let location = format!(
        "/api/v1/definitions/{}/versions/{}",
        definition.name, definition.version
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({
            "name": definition.name,
            "version": definition.version,
            "hash": definition.hash,
        })),
    ))
}

fn summary(definition: &StoredDefinition) -> Value {
    json!({
        "version": definition.version,
        "hash": definition.hash,
        "description": definition.description,
        "created_at": definition.created_at,
    })
}

async fn list<S: Store, R: ReadModels>(State(app): Shared<S, R>) -> Result<Json<Value>, ApiError> {
    let stored = app.read_models.definitions().await?;
    let mut items: Vec<Value> = Vec::new();
    for chunk in stored.chunk_by(|a, b| a.name == b.name) {
        let latest = &chunk[chunk.len() - 1];
        items.push(json!({
            "name": latest.name,
            "latest_version": latest.version,
            "description": latest.description,
            "versions": chunk.iter().map(|d| d.version).collect::<Vec<_>>(),
        }));
    }
    Ok(Json(json!({ "items": items })))
}

async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let versions: Vec<Value> = app
        .read_models
        .definitions()
        .await?
        .iter()
        .filter(|definition| definition.name == name)
        .map(summary)
        .collect();
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("definition {name}")));
    }
    Ok(Json(json!({ "name": name, "versions": versions })))
}

async fn version<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let number: u32 = version
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("`{version}` is not a version number")))?;
    let stored = app
        .read_models
        .definition(&name, number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("definition {name} version {number}")))?;
    let definition =
        catalog::resolve(app.engine.definitions(), &app.read_models, &name, number).await?;
    let steps: Vec<Value> = definition
        .steps
        .iter()
        .map(|step| {
            json!({
                "id": step.id.as_str(),
                "type": step.kind.name(),
                "needs": step.needs.iter().map(|&need| definition.steps[need].id.as_str()).collect::<Vec<_>>(),
                "compensated": step.compensate.is_some(),
            })
        })
        .collect();
    let mut body = summary(&stored);
    body["name"] = json!(name);
    body["source"] = json!(stored.source);
    body["graph"] = json!({
        "steps": steps,
        "mermaid": domain::definition::diagram::mermaid(&definition),
    });
    Ok(Json(body))
}
