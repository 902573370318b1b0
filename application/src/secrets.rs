//! Resolves `${ secrets.NAME }` references in a task's input at run time, in
//! the worker, so that secret values never reach an event or the bus. Only
//! the strings the task names in `secrets` are resolved: the places where
//! the definition wrote a reference, known when it was compiled. A reference
//! anywhere else (in a start's input, say) is data and stays as it is.

use serde_json::Value;

/// `value` with the references in the strings at `paths` (JSON Pointers)
/// replaced by `lookup(NAME)`; `$${` there stands for a literal `${`. An
/// unknown secret is an error naming it.
pub fn resolve(
    value: &Value,
    paths: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, String> {
    let mut resolved = value.clone();
    for path in paths {
        if let Some(Value::String(text)) = resolved.pointer_mut(path) {
            *text = resolve_text(text, lookup)?;
        }
    }
    Ok(resolved)
}

fn resolve_text(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    const OPEN: &str = "${ secrets.";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let reference = rest[start..]
            .strip_prefix(OPEN)
            .and_then(|after| Some((after, after.find(" }")?)));
        let Some((after, end)) = reference else {
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
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
    fn resolves_where_the_definition_wrote_references_and_only_there() {
        let lookup = |name: &str| (name == "token").then(|| "s3cr3t".to_owned());
        let input = json!({
            "headers": {"Authorization": "Bearer ${ secrets.token } $${ secrets.token }"},
            "note": "${ secrets.token }",
            "n": 1
        });
        let paths = ["/headers/Authorization".to_owned(), "/missing".to_owned()];
        assert_eq!(
            resolve(&input, &paths, &lookup).unwrap(),
            json!({
                "headers": {"Authorization": "Bearer s3cr3t ${ secrets.token }"},
                "note": "${ secrets.token }",
                "n": 1
            })
        );
        let missing = resolve(&json!(["${ secrets.other }"]), &["/0".to_owned()], &lookup);
        assert!(missing.unwrap_err().contains("other"));
    }
}
