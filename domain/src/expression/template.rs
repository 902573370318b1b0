//! Values with `${ expr }` holes. A string that is exactly one hole keeps the
//! expression's JSON type; otherwise results are interpolated as text.
//! `${ secrets.NAME }` is never evaluated here: it renders as itself and the
//! executor resolves it, so secrets never land in an event.

use serde_json::{Map, Value};

use super::{EvaluationError, Expression, Scope, limits};
use crate::definition::source::Position;
use crate::definition::yaml::{Node, NodeValue};

#[derive(Clone, Debug, PartialEq)]
pub enum Template {
    /// No holes anywhere below: rendered as is.
    Literal(Value),
    /// A string that is exactly one `${ }`.
    Expression(Expression),
    /// A string with text around or between holes.
    Text(Vec<Piece>),
    Array(Vec<Template>),
    Object(Vec<(String, Template)>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Expression(Expression),
    Secret(String),
}

/// A problem with one hole of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub at: Position,
    pub message: String,
}

impl Template {
    /// Compiles every hole below `node`; `check` sees each compiled expression
    /// with its position and may report problems about what it references.
    pub fn compile(
        node: &Node,
        check: &mut dyn FnMut(Position, &Expression),
    ) -> Result<Template, Vec<TemplateError>> {
        let mut errors = Vec::new();
        let template = compile_node(node, check, &mut errors);
        if errors.is_empty() {
            Ok(template)
        } else {
            Err(errors)
        }
    }

    pub fn literal(value: Value) -> Self {
        Template::Literal(value)
    }

    /// Renders the template; a value over
    /// [`MAX_VALUE_BYTES`](super::limits::MAX_VALUE_BYTES) is an error,
    /// found as soon as the parts rendered so far pass it.
    pub fn render(&self, scope: &dyn Scope) -> Result<Value, EvaluationError> {
        let mut room = limits::MAX_VALUE_BYTES;
        self.render_within(scope, &mut room)
    }

    fn render_within(&self, scope: &dyn Scope, room: &mut usize) -> Result<Value, EvaluationError> {
        let value = match self {
            Template::Literal(value) => value.clone(),
            Template::Expression(expression) => expression.evaluate(scope)?,
            Template::Text(pieces) => {
                let mut text = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(literal) => text.push_str(literal),
                        Piece::Secret(name) => {
                            text.push_str("${ secrets.");
                            text.push_str(name);
                            text.push_str(" }");
                        }
                        Piece::Expression(expression) => match expression.evaluate(scope)? {
                            Value::String(value) => text.push_str(&value),
                            Value::Null => {}
                            other => text.push_str(&other.to_string()),
                        },
                    }
                    if text.len() > *room {
                        return Err(self.oversized());
                    }
                }
                Value::String(text)
            }
            Template::Array(items) => {
                let mut array = Vec::with_capacity(items.len());
                for item in items {
                    array.push(item.render_within(scope, room)?);
                }
                return Ok(Value::Array(array));
            }
            Template::Object(entries) => {
                let mut object = Map::with_capacity(entries.len());
                for (key, template) in entries {
                    object.insert(key.clone(), template.render_within(scope, room)?);
                }
                return Ok(Value::Object(object));
            }
        };
        // Leaves are counted; the brackets and keys around them are few
        // next to the limit.
        *room = room
            .checked_sub(limits::json_bytes(&value))
            .ok_or_else(|| self.oversized())?;
        Ok(value)
    }

    fn oversized(&self) -> EvaluationError {
        EvaluationError {
            expression: self
                .expressions()
                .first()
                .map_or_else(String::new, |first| first.source().to_owned()),
            reason: format!(
                "the rendered value is larger than the limit of {} bytes",
                limits::MAX_VALUE_BYTES
            ),
        }
    }

    /// Every expression in the template.
    pub fn expressions(&self) -> Vec<&Expression> {
        let mut found = Vec::new();
        self.collect(&mut found);
        found
    }

    fn collect<'a>(&'a self, found: &mut Vec<&'a Expression>) {
        match self {
            Template::Literal(_) => {}
            Template::Expression(expression) => found.push(expression),
            Template::Text(pieces) => found.extend(pieces.iter().filter_map(|piece| match piece {
                Piece::Expression(expression) => Some(expression),
                _ => None,
            })),
            Template::Array(items) => items.iter().for_each(|item| item.collect(found)),
            Template::Object(entries) => entries.iter().for_each(|(_, item)| item.collect(found)),
        }
    }
}

fn compile_node(
    node: &Node,
    check: &mut dyn FnMut(Position, &Expression),
    errors: &mut Vec<TemplateError>,
) -> Template {
    match &node.value {
        NodeValue::String(text) => compile_string(text, node.at, check, errors),
        NodeValue::Sequence(items) => {
            let items: Vec<_> = items
                .iter()
                .map(|item| compile_node(item, check, errors))
                .collect();
            if items
                .iter()
                .all(|item| matches!(item, Template::Literal(_)))
            {
                Template::Literal(node.to_json())
            } else {
                Template::Array(items)
            }
        }
        NodeValue::Mapping(entries) => {
            let entries: Vec<_> = entries
                .iter()
                .map(|(key, value)| (key.name.clone(), compile_node(value, check, errors)))
                .collect();
            if entries
                .iter()
                .all(|(_, item)| matches!(item, Template::Literal(_)))
            {
                Template::Literal(node.to_json())
            } else {
                Template::Object(entries)
            }
        }
        _ => Template::Literal(node.to_json()),
    }
}

fn compile_string(
    text: &str,
    at: Position,
    check: &mut dyn FnMut(Position, &Expression),
    errors: &mut Vec<TemplateError>,
) -> Template {
    let pieces = match split(text) {
        Ok(pieces) => pieces,
        Err(message) => {
            errors.push(TemplateError { at, message });
            return Template::Literal(Value::String(text.to_owned()));
        }
    };
    let mut compiled = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            Raw::Text(literal) => compiled.push(Piece::Text(literal)),
            Raw::Hole(source) => match Expression::compile(&source) {
                Ok(expression) => {
                    let references = expression.references();
                    if references.secrets_dynamic || !references.secrets.is_empty() {
                        match secret_name(&source) {
                            Some(name) => compiled.push(Piece::Secret(name.to_owned())),
                            None => errors.push(TemplateError {
                                at,
                                message: format!(
                                    "`${{ {} }}`: a secret can only be used alone, as `${{ secrets.NAME }}`, so that it is resolved by the executor and never stored",
                                    source.trim()
                                ),
                            }),
                        }
                        continue;
                    }
                    check(at, &expression);
                    compiled.push(Piece::Expression(expression));
                }
                Err(error) => errors.push(TemplateError {
                    at,
                    message: error.describe(&source),
                }),
            },
        }
    }
    match compiled.as_slice() {
        [] => Template::Literal(Value::String(String::new())),
        [Piece::Text(literal)] => Template::Literal(Value::String(literal.clone())),
        [Piece::Expression(expression)] => Template::Expression(expression.clone()),
        _ => Template::Text(compiled),
    }
}

fn secret_name(source: &str) -> Option<&str> {
    let name = source.trim().strip_prefix("secrets.")?;
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    valid.then_some(name)
}

enum Raw {
    Text(String),
    Hole(String),
}

/// Splits `a ${ x } b` into text and holes. `$${` writes a literal `${`.
/// A hole ends at the first `}` outside quotes and nested braces.
fn split(text: &str) -> Result<Vec<Raw>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            literal.push_str(&rest[..start - 1]);
            literal.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        literal.push_str(&rest[..start]);
        let body = &rest[start + 2..];
        let end =
            hole_end(body).ok_or_else(|| format!("`${{` without a closing `}}` in \"{text}\""))?;
        if !literal.is_empty() {
            pieces.push(Raw::Text(std::mem::take(&mut literal)));
        }
        let source = &body[..end];
        if source.trim().is_empty() {
            return Err(format!("empty `${{ }}` in \"{text}\""));
        }
        pieces.push(Raw::Hole(source.to_owned()));
        rest = &body[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Raw::Text(literal));
    }
    Ok(pieces)
}

fn hole_end(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, c) in body.char_indices() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::yaml::{ReadLimits, read_yaml};
    use crate::expression::scope::Fixture;
    use serde_json::json;

    fn template(yaml: &str) -> Template {
        let node = read_yaml(yaml, ReadLimits::default()).unwrap();
        Template::compile(&node, &mut |_, _| {}).unwrap()
    }

    #[test]
    fn a_single_hole_keeps_the_json_type() {
        let scope = Fixture(json!({"items": [1, 2], "n": 3}));
        let rendered = template("{items: '${ input.items }', n: '${input.n + 1}', k: 7}")
            .render(&scope)
            .unwrap();
        assert_eq!(rendered, json!({"items": [1, 2], "n": 4, "k": 7}));
    }

    #[test]
    fn holes_inside_text_are_interpolated() {
        let scope = Fixture(json!({"id": 42, "name": "x"}));
        let rendered = template("'http://svc/${ input.id }/${input.name}?q=${ {\"a\": 1}.a }'")
            .render(&scope)
            .unwrap();
        assert_eq!(rendered, json!("http://svc/42/x?q=1"));
    }

    #[test]
    fn secrets_stay_references() {
        let scope = Fixture(json!({}));
        let rendered = template("{auth: 'Bearer ${ secrets.token }', whole: '${secrets.key}'}")
            .render(&scope)
            .unwrap();
        assert_eq!(
            rendered,
            json!({"auth": "Bearer ${ secrets.token }", "whole": "${ secrets.key }"})
        );
    }

    #[test]
    fn rejects_secrets_inside_expressions_and_broken_holes() {
        let node = read_yaml(
            "['${ secrets.a + \"x\" }', '${ input.', '${ 1 +  }']",
            ReadLimits::default(),
        )
        .unwrap();
        let errors = Template::compile(&node, &mut |_, _| {}).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].message.contains("secret"));
        assert!(errors[1].message.contains("closing"));
        assert!(errors[2].message.contains("does not parse"));
    }

    #[test]
    fn dollar_dollar_escapes_a_hole() {
        let scope = Fixture(json!({}));
        assert_eq!(
            template("'cost: $${ x }'").render(&scope).unwrap(),
            json!("cost: ${ x }")
        );
    }
}
