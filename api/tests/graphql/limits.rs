//! Depth and complexity limits refuse abusive queries before anything runs,
//! and let GraphiQL's introspection query through.

use serde_json::json;
use sqlx::PgPool;

use crate::{Node, code, data};

/// The introspection query of graphql-js 16 (`getIntrospectionQuery()`),
/// which GraphiQL sends to learn the schema.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn deep_and_costly_queries_are_refused_and_introspection_is_not(pool: PgPool) {
    let node = Node::open(pool).await;
    let schema = node.ask(INTROSPECTION, json!({})).await;
    assert_eq!(data(&schema)["__schema"]["queryType"]["name"], "Query");

    let mut deep = String::from("kind");
    for _ in 0..api::graphql::MAX_DEPTH {
        deep = format!("ofType {{ {deep} }}");
    }
    let deep = node
        .ask(
            &format!("{{ __type(name: \"Workflow\") {{ {deep} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code(&deep), "TOO_DEEP");

    let costly = "{ workflows(first: 500) { items { id status steps { id status output }
        events(first: 500) { items { type data } } } } }";
    let costly = node.ask(costly, json!({})).await;
    assert_eq!(code(&costly), "TOO_COMPLEX");
    assert!(costly["data"].is_null());
    let page = "{ workflows(first: 500) { items { id status definition input createdAt } } }";
    data(&node.ask(page, json!({})).await);
}
