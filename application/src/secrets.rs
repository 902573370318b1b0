//! Resolves `${ secrets.NAME }` references in a task's input at run time, in
//! the worker, so that secret values never reach an event or the bus.

use serde_json::Value;

/// Replaces every `${ secrets.NAME }` in the strings of `value` with
/// `lookup(NAME)`; an unknown secret is an error naming it.
pub fn resolve(value: &Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => Value::String(resolve_text(text, lookup)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve(item, lookup))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| Ok((key.clone(), resolve(value, lookup)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn resolve_text(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    const OPEN: &str = "${ secrets.";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(" }") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let secret =
            lookup(name).ok_or_else(|| format!("secret `{name}` is not set in this worker"))?;
        out.push_str(&secret);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Secrets from the environment: `secrets.api_token` is `DISTORCH_SECRET_API_TOKEN`.
pub fn from_environment(name: &str) -> Option<String> {
    std::env::var(format!("DISTORCH_SECRET_{}", name.to_uppercase())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_references_and_names_missing_secrets() {
        let lookup = |name: &str| (name == "token").then(|| "s3cr3t".to_owned());
        let input = json!({"headers": {"Authorization": "Bearer ${ secrets.token }"}, "n": 1});
        assert_eq!(
            resolve(&input, &lookup).unwrap(),
            json!({"headers": {"Authorization": "Bearer s3cr3t"}, "n": 1})
        );
        let missing = resolve(&json!(["${ secrets.other }"]), &lookup).unwrap_err();
        assert!(missing.contains("other"));
    }
}
