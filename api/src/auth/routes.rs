//! The permission each route needs: the one place to look, and the one line
//! to add with a route. A matched route missing here needs `administer`, so
//! a route added without a line is closed to all but admins.

use application::auth::Permission::{self, *};
use axum::http::Method;

/// `(method, route template as the router matched it, permission)`.
pub const ROUTES: &[(Method, &str, Permission)] = &[
    (Method::GET, "/health/live", Public),
    (Method::GET, "/openapi.json", Public),
    (Method::GET, "/docs", Public),
    (Method::GET, "/docs/", Public),
    (Method::GET, "/docs/{*rest}", Public),
    (Method::POST, "/api/v1/workflows", Operate),
    (Method::GET, "/api/v1/workflows/{id}", Read),
    (Method::POST, "/api/v1/workflows/{id}/pause", Operate),
    (Method::POST, "/api/v1/workflows/{id}/resume", Operate),
    (Method::POST, "/api/v1/workflows/{id}/cancel", Operate),
    (
        Method::POST,
        "/api/v1/workflows/{id}/signals/{name}",
        Operate,
    ),
    (Method::GET, "/api/v1/workflows/{id}/stream", Read),
    (Method::GET, "/api/v1/events/stream", Read),
    (Method::GET, "/ws/events", Read),
    (Method::GET, "/api/v1/workflows", Read),
    (Method::POST, "/api/v1/workflows/batch", Operate),
    (Method::GET, "/api/v1/workflows/{id}/events", Read),
    (Method::POST, "/api/v1/definitions", Administer),
    (Method::GET, "/api/v1/definitions", Read),
    (Method::GET, "/api/v1/definitions/{name}", Read),
    (
        Method::GET,
        "/api/v1/definitions/{name}/versions/{version}",
        Read,
    ),
    (Method::GET, "/api/v1/schedules", Read),
    (Method::POST, "/api/v1/schedules", Operate),
    (Method::GET, "/api/v1/schedules/{name}", Read),
    (Method::DELETE, "/api/v1/schedules/{name}", Operate),
    (Method::POST, "/api/v1/schedules/{name}/pause", Operate),
    (Method::POST, "/api/v1/schedules/{name}/resume", Operate),
    (Method::GET, "/api/v1/tasks/{task_id}", Read),
    (Method::POST, "/api/v1/tasks/{task_id}/retry", Operate),
    (Method::POST, "/api/v1/tasks/{task_id}/skip", Operate),
    (Method::POST, "/api/v1/tasks/{task_id}/approve", Approve),
    (Method::POST, "/api/v1/tasks/{task_id}/reject", Approve),
    // Workers that report over HTTP act on the tasks they were given.
    (Method::POST, "/api/v1/tasks/{task_id}/complete", Operate),
    (Method::POST, "/api/v1/tasks/{task_id}/fail", Operate),
    (Method::POST, "/api/v1/tasks/{task_id}/heartbeat", Operate),
    (Method::GET, "/api/v1/tasks/poll", Operate),
    (Method::GET, "/api/v1/stats", Read),
    (Method::GET, "/api/v1/analytics/bottlenecks", Read),
    (Method::GET, "/api/v1/overview", Read),
    (Method::GET, "/api/v1/approvals", Read),
    (Method::GET, "/api/v1/definitions/{name}/steps", Read),
    (Method::GET, "/api/v1/me", Public),
    (Method::GET, "/api/v1/workers", Read),
    (Method::GET, "/api/v1/workers/stream", Read),
    (Method::GET, "/api/v1/workers/{id}", Read),
    (Method::POST, "/api/v1/workers/{id}/drain", Operate),
    // GraphQL checks each root field's permission itself (graphql::access).
    // The page (GraphiQL) and the WebSocket are public: a browser cannot
    // send a header with either, so a GET with a query needs a credential
    // and a WebSocket authenticates in its `connection_init`.
    (Method::POST, "/graphql", Read),
    (Method::GET, "/graphql", Public),
    (Method::GET, "/graphql/ws", Public),
];

/// What a request to `route` with `method` needs.
pub fn required(method: &Method, route: &str) -> Permission {
    ROUTES
        .iter()
        .find(|(m, r, _)| m == method && *r == route)
        .map_or(Administer, |(_, _, permission)| *permission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_missing_from_the_table_needs_administer() {
        assert_eq!(required(&Method::GET, "/api/v1/workflows/{id}"), Read);
        assert_eq!(
            required(&Method::DELETE, "/api/v1/workflows/{id}"),
            Administer
        );
        assert_eq!(required(&Method::GET, "/api/v1/secret"), Administer);
    }

    #[test]
    fn each_route_is_listed_once() {
        for (index, (method, route, _)) in ROUTES.iter().enumerate() {
            let later = &ROUTES[index + 1..];
            assert!(
                !later.iter().any(|(m, r, _)| m == method && r == route),
                "{method} {route}"
            );
        }
    }
}
