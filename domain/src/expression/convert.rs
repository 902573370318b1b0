//! JSON to CEL values and back; the weight of the data an expression reads
//! (for its cost budget); a result may not grow past a limit.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Number, Value};

use super::cost::STRING_BYTES_PER_UNIT;
use super::references::References;
use super::scope::Scope;

pub(super) fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(flag) => cel::Value::Bool(*flag),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                cel::Value::Int(int)
            } else if let Some(uint) = number.as_u64() {
                cel::Value::UInt(uint)
            } else {
                cel::Value::Float(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(text) => cel::Value::String(Arc::new(text.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(entries) => {
            let map: HashMap<String, cel::Value> = entries
                .iter()
                .map(|(key, value)| (key.clone(), to_cel(value)))
                .collect();
            cel::Value::from(map)
        }
    }
}

/// The size of `value` in the cost estimate's units: one per value, and
/// one per [`STRING_BYTES_PER_UNIT`] bytes of a string or a key.
pub fn weight(value: &Value) -> f64 {
    let text = |text: &str| (text.len() / STRING_BYTES_PER_UNIT) as f64;
    1.0 + match value {
        Value::String(value) => text(value),
        Value::Array(items) => items.iter().map(weight).sum(),
        Value::Object(entries) => entries
            .iter()
            .map(|(key, value)| text(key) + weight(value))
            .sum(),
        _ => 0.0,
    }
}

/// The size of the data at `path` (see [`References::paths`]); nothing
/// when there is none.
pub(super) fn weight_at(scope: &dyn Scope, references: &References, path: &[String]) -> f64 {
    let under = |value: &Value, fields: &[String]| {
        fields
            .iter()
            .try_fold(value, |value, field| value.get(field))
            .map_or(0.0, weight)
    };
    let step = |id: &String| {
        scope
            .step(id)
            .and_then(|(_, output)| output)
            .map_or(1.0, |output| 1.0 + weight(output))
    };
    match path {
        [root, fields @ ..] if root == "input" => under(scope.input(), fields),
        [root, fields @ ..] if root == "workflow" => under(&scope.workflow(), fields),
        [_steps] => references.steps.iter().map(step).sum(),
        [_steps, id] => step(id),
        [_steps, id, output, fields @ ..] if output == "output" => scope
            .step(id)
            .and_then(|(_, output)| output)
            .map_or(0.0, |output| under(output, fields)),
        _ => 1.0,
    }
}

/// Converts a result to JSON, refusing it once it is over `limit` bytes
/// written out (counted roughly: numbers as 20 bytes).
pub(super) fn from_cel(value: &cel::Value, limit: usize) -> Result<Value, String> {
    let mut room = limit;
    convert_back(value, &mut room)
        .ok_or_else(|| format!("the result is larger than the limit of {limit} bytes"))?
}

/// `None` when the result is over its limit; `Some(Err)` when it is not JSON.
fn convert_back(value: &cel::Value, room: &mut usize) -> Option<Result<Value, String>> {
    let take = |room: &mut usize, bytes: usize| -> Option<()> {
        *room = room.checked_sub(bytes)?;
        Some(())
    };
    Some(Ok(match value {
        cel::Value::Null => {
            take(room, 4)?;
            Value::Null
        }
        cel::Value::Bool(flag) => {
            take(room, 5)?;
            Value::Bool(*flag)
        }
        cel::Value::Int(int) => {
            take(room, 20)?;
            Value::Number((*int).into())
        }
        cel::Value::UInt(uint) => {
            take(room, 20)?;
            Value::Number((*uint).into())
        }
        cel::Value::Float(float) => {
            take(room, 20)?;
            match Number::from_f64(*float) {
                Some(number) => Value::Number(number),
                None => return Some(Err(format!("the result {float} is not a finite number"))),
            }
        }
        cel::Value::String(text) => {
            take(room, text.len() + 2)?;
            Value::String(text.to_string())
        }
        cel::Value::List(items) => {
            take(room, 2 + items.len())?;
            let mut array = Vec::with_capacity(items.len());
            for item in items.iter() {
                match convert_back(item, room)? {
                    Ok(item) => array.push(item),
                    error => return Some(error),
                }
            }
            Value::Array(array)
        }
        cel::Value::Map(map) => {
            take(room, 2 + map.map.len())?;
            let mut object = Map::with_capacity(map.map.len());
            for (key, value) in map.map.iter() {
                let key = key.to_string();
                take(room, key.len() + 3)?;
                match convert_back(value, room)? {
                    Ok(value) => object.insert(key, value),
                    error => return Some(error),
                };
            }
            Value::Object(object)
        }
        other => {
            let json = match other.json() {
                Ok(json) => json,
                Err(error) => {
                    return Some(Err(format!(
                        "the result cannot be written as JSON: {error}"
                    )));
                }
            };
            take(room, json.to_string().len())?;
            json
        }
    }))
}
