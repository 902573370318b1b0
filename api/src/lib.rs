//! DisTorch's HTTP interfaces: REST with OpenAPI, GraphQL, SSE, metrics and
//! health. Empty until the API work.
