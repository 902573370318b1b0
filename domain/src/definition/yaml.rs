//! Reads YAML (or JSON, a subset of it) into a tree of [`Node`]s that remember
//! where they were written, with hard limits so hostile input cannot exhaust
//! time or memory: size, nesting depth, node count and alias expansion.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use serde_saphyr::options::{AliasLimits, DuplicateKeyPolicy};
use serde_saphyr::{Budget, Options, Spanned};

use super::source::{Position, Problems};

/// Limits applied while reading a workflow file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
    pub max_alias_expansion: usize,
}

impl Default for ReadLimits {
    /// Room for a workflow of several thousand steps, far below what hurts.
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 48,
            max_nodes: 100_000,
            max_alias_expansion: 10_000,
        }
    }
}

/// A YAML value and the position it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub at: Position,
    pub value: NodeValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Sequence(Vec<Node>),
    Mapping(Vec<(Key, Node)>),
}

/// A mapping key; keys are always read as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub at: Position,
    pub name: String,
}

/// Reads one YAML document into a [`Node`] tree.
pub fn read_yaml(source: &str, limits: ReadLimits) -> Result<Node, Problems> {
    if source.len() > limits.max_bytes {
        return Err(Problems::one(
            Position::new(1, 1),
            format!(
                "the file is {} bytes, more than the limit of {} bytes",
                source.len(),
                limits.max_bytes
            ),
        ));
    }
    let mut budget = Budget::default();
    budget.max_depth = limits.max_depth;
    budget.max_nodes = limits.max_nodes;
    budget.max_aliases = limits.max_alias_expansion;
    budget.max_documents = 1;
    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = limits.max_alias_expansion;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits = alias_limits;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    // YAML 1.2 core booleans only: `no`, `on` or `y` stay strings (the Norway problem).
    options.strict_booleans = true;
    let node: Option<Node> =
        serde_saphyr::from_str_with_options(source, options).map_err(yaml_problem)?;
    Ok(node.unwrap_or(Node {
        at: Position::new(1, 1),
        value: NodeValue::Null,
    }))
}

fn yaml_problem(error: serde_saphyr::Error) -> Problems {
    let at = error
        .location()
        .map(|location| Position::new(location.line() as u32, location.column() as u32))
        .unwrap_or(Position::new(1, 1));
    let text = error.without_snippet().to_string();
    let first_line = text.lines().next().unwrap_or_default();
    let message = first_line
        .strip_prefix("error: ")
        .unwrap_or(first_line)
        .split_once(": ")
        .filter(|(prefix, _)| prefix.starts_with("line "))
        .map_or(first_line, |(_, rest)| rest)
        .trim();
    let message = if message.contains("budget breached") || message.contains("limit exceeded") {
        format!("input too large or too deeply nested ({message})")
    } else {
        format!("invalid YAML: {message}")
    };
    Problems::one(at, message)
}

fn position_of<T>(spanned: &Spanned<T>) -> Position {
    Position::new(
        spanned.referenced.line() as u32,
        spanned.referenced.column() as u32,
    )
}

impl Node {
    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Number(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Sequence(_) => "a list",
            NodeValue::Mapping(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// The same value as JSON, positions dropped.
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(flag) => Value::Bool(*flag),
            NodeValue::Number(number) => Value::Number(number.clone()),
            NodeValue::String(text) => Value::String(text.clone()),
            NodeValue::Sequence(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, node)| (key.name.clone(), node.to_json()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(deserializer)?;
        let at = position_of(&spanned);
        Ok(Node {
            at,
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(deserializer)
    }

    fn visit_bool<E>(self, flag: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(number.into()))
    }

    fn visit_u64<E>(self, number: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(number.into()))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<NodeValue, E> {
        Number::from_f64(number)
            .map(NodeValue::Number)
            .ok_or_else(|| E::custom("numbers must be finite"))
    }

    fn visit_str<E>(self, text: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::String(text.to_owned()))
    }

    fn visit_string<E>(self, text: String) -> Result<NodeValue, E> {
        Ok(NodeValue::String(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(item) = access.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(key) = access.next_key::<Spanned<KeyText>>()? {
            let value = access.next_value::<Node>()?;
            let at = position_of(&key);
            entries.push((
                Key {
                    at,
                    name: key.value.0,
                },
                value,
            ));
        }
        Ok(NodeValue::Mapping(entries))
    }
}

/// A mapping key read as text, whatever scalar it was written as.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, text: &str) -> Result<KeyText, E> {
                Ok(KeyText(text.to_owned()))
            }
            fn visit_bool<E>(self, flag: bool) -> Result<KeyText, E> {
                Ok(KeyText(flag.to_string()))
            }
            fn visit_i64<E>(self, number: i64) -> Result<KeyText, E> {
                Ok(KeyText(number.to_string()))
            }
            fn visit_u64<E>(self, number: u64) -> Result<KeyText, E> {
                Ok(KeyText(number.to_string()))
            }
            fn visit_f64<E>(self, number: f64) -> Result<KeyText, E> {
                Ok(KeyText(number.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(source: &str) -> Result<Node, Problems> {
        read_yaml(source, ReadLimits::default())
    }

    #[test]
    fn remembers_where_keys_and_values_are() {
        let node = read("name: order\nsteps:\n  a: {type: noop, n: no, on: 1}\n").unwrap();
        let NodeValue::Mapping(entries) = &node.value else {
            panic!("expected a mapping, got {node:?}")
        };
        assert_eq!(entries[0].0.at, Position::new(1, 1));
        assert_eq!(entries[0].1.at, Position::new(1, 7));
        assert_eq!(entries[1].0.name, "steps");
        let NodeValue::Mapping(steps) = &entries[1].1.value else {
            panic!("steps is not a mapping")
        };
        assert_eq!(steps[0].0.at, Position::new(3, 3));
        let json = node.to_json();
        assert_eq!(
            json["steps"]["a"]["n"], "no",
            "YAML 1.1 booleans stay strings"
        );
        assert_eq!(json["steps"]["a"]["on"], 1);
    }

    #[test]
    fn refuses_an_alias_bomb_quickly() {
        let mut source = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            let refs = vec![format!("*{previous}"); 10].join(",");
            source.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let problems = read(&source).unwrap_err();
        let message = problems.to_string();
        assert!(message.contains("too large"), "{message}");
    }

    #[test]
    fn refuses_deep_nesting() {
        let flow = "[".repeat(100_000);
        assert!(read(&flow).is_err());
        let block: String = (0..200)
            .map(|depth| format!("{}a:\n", " ".repeat(depth)))
            .collect();
        let problems = read(&block).unwrap_err();
        assert!(problems.to_string().contains("nested"), "{problems}");
    }

    #[test]
    fn refuses_files_over_the_size_limit() {
        let source = format!("name: \"{}\"\n", "x".repeat(2 * 1024 * 1024));
        let problems = read(&source).unwrap_err();
        assert_eq!(problems.iter().next().unwrap().at, Position::new(1, 1));
        assert!(problems.to_string().contains("more than the limit"));
    }

    #[test]
    fn reports_syntax_errors_with_their_position() {
        let problems = read("a: [1\nb: 2\n").unwrap_err();
        let problem = problems.iter().next().unwrap();
        assert_eq!(problem.at.line, 2);
        assert!(problem.message.starts_with("invalid YAML"), "{problem}");
    }

    #[test]
    fn refuses_duplicate_keys() {
        let problems = read("a: 1\na: 2\n").unwrap_err();
        assert!(problems.to_string().contains("duplicate"), "{problems}");
    }
}
