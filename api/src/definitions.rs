//! `/api/v1/definitions`: deploy a definition (YAML or JSON), list them,
//! read one's versions, source and graph.

use std::sync::Arc;

use application::catalog::{self, DeployError};
use application::ports::StoredDefinition;
use axum::extract::State;
use axum::extract::rejection::StringRejection;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::definition_graph::{self, GraphStep};
use crate::error::Problem;
use crate::extract::{PathParams, text};
use crate::problems::{BodyLimit, NoSuchVersion};
use crate::{ApiError, App, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new()
        .route("/", get(list::<S, R>).post(deploy::<S, R>))
        .route("/{name}", get(show::<S, R>))
        .route("/{name}/versions/{version}", get(version::<S, R>))
}

/// As REST and GraphQL answer a refused deployment: every problem with its
/// position, or a conflict with a version deployed with other content.
impl From<DeployError> for ApiError {
    fn from(error: DeployError) -> Self {
        match error {
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
        }
    }
}

/// A deployed definition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Deployed {
    name: String,
    version: u32,
    hash: String,
}

/// Deploys a definition from its YAML or JSON source. Stored, so every
/// node loads it at start (and finds it later on demand).
#[utoipa::path(
    post, path = "/api/v1/definitions", tag = "definitions",
    request_body(
        description = "The definition's source, YAML or JSON (see docs/dsl.md)",
        content(
            (String = "application/yaml"),
            (Object = "application/json"),
        ),
    ),
    responses(
        (status = 201, description = "Deployed (or the same source deployed before)", body = Deployed,
            headers(("location" = String, description = "The deployed version"))),
        (status = 400, description = "The body is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This name and version were deployed with other content", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The definition is invalid: every problem with its line and column", body = Problem, content_type = "application/problem+json"),
        BodyLimit,
    ),
)]
pub(crate) async fn deploy<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    source: Result<String, StringRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let source = text(source)?;
    let definition = catalog::deploy(app.engine.definitions(), &app.read_models, &source).await?;
    let location = format!(
        "/api/v1/definitions/{}/versions/{}",
        definition.name, definition.version
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(Deployed {
            name: definition.name.clone(),
            version: definition.version,
            hash: definition.hash.clone(),
        }),
    ))
}

/// One version of a definition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VersionSummary {
    version: u32,
    hash: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<&StoredDefinition> for VersionSummary {
    fn from(definition: &StoredDefinition) -> Self {
        Self {
            version: definition.version,
            hash: definition.hash.clone(),
            description: definition.description.clone(),
            created_at: definition.created_at,
        }
    }
}

/// A definition in the list: its latest version and every version number.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DefinitionItem {
    name: String,
    latest_version: u32,
    description: Option<String>,
    versions: Vec<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DefinitionList {
    items: Vec<DefinitionItem>,
}

/// Every deployed definition, by name.
#[utoipa::path(
    get, path = "/api/v1/definitions", tag = "definitions",
    responses((status = 200, description = "The definitions", body = DefinitionList)),
)]
pub(crate) async fn list<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
) -> Result<Json<DefinitionList>, ApiError> {
    let stored = app.read_models.definitions().await?;
    let mut items = Vec::new();
    for chunk in stored.chunk_by(|a, b| a.name == b.name) {
        let latest = &chunk[chunk.len() - 1];
        items.push(DefinitionItem {
            name: latest.name.clone(),
            latest_version: latest.version,
            description: latest.description.clone(),
            versions: chunk.iter().map(|d| d.version).collect(),
        });
    }
    Ok(Json(DefinitionList { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DefinitionVersions {
    name: String,
    versions: Vec<VersionSummary>,
}

/// A definition's versions.
#[utoipa::path(
    get, path = "/api/v1/definitions/{name}", tag = "definitions",
    params(("name" = String, Path, description = "The definition's name")),
    responses(
        (status = 200, description = "Its versions, oldest first", body = DefinitionVersions),
        (status = 400, description = "The name is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No definition has this name", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(name): PathParams<String>,
) -> Result<Json<DefinitionVersions>, ApiError> {
    let stored = catalog::versions(&app.read_models, &name).await?;
    let versions = stored.iter().map(VersionSummary::from).collect();
    Ok(Json(DefinitionVersions { name, versions }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Graph {
    steps: Vec<GraphStep>,
    /// The JSON Schema of the input (`input.schema`), if any.
    input_schema: Option<Value>,
    /// The graph as a Mermaid flowchart.
    mermaid: String,
}

/// One version in full: its source and graph.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DefinitionVersion {
    name: String,
    #[serde(flatten)]
    summary: VersionSummary,
    source: String,
    graph: Graph,
}

/// One version of a definition: its source and its graph.
#[utoipa::path(
    get, path = "/api/v1/definitions/{name}/versions/{version}", tag = "definitions",
    params(
        ("name" = String, Path, description = "The definition's name"),
        ("version" = u32, Path, description = "The version number"),
    ),
    responses(
        (status = 200, description = "The version", body = DefinitionVersion),
        (status = 400, description = "The version is not a number", body = Problem, content_type = "application/problem+json"),
        NoSuchVersion,
    ),
)]
pub(crate) async fn version<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams((name, version)): PathParams<(String, String)>,
) -> Result<Json<DefinitionVersion>, ApiError> {
    let number: u32 = version
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("`{version}` is not a version number")))?;
    let registry = app.engine.definitions();
    let (stored, definition) = catalog::version(registry, &app.read_models, &name, number).await?;
    let steps = definition_graph::steps(&definition);
    Ok(Json(DefinitionVersion {
        summary: VersionSummary::from(&stored),
        name,
        source: stored.source,
        graph: Graph {
            steps,
            input_schema: definition.input_schema.as_ref().map(|s| s.schema.clone()),
            mermaid: domain::definition::diagram::mermaid(&definition),
        },
    }))
}
