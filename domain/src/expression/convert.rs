//! JSON to CEL values and back.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Number, Value};

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

pub(super) fn from_cel(value: &cel::Value) -> Result<Value, String> {
    Ok(match value {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(flag) => Value::Bool(*flag),
        cel::Value::Int(int) => Value::Number((*int).into()),
        cel::Value::UInt(uint) => Value::Number((*uint).into()),
        cel::Value::Float(float) => Number::from_f64(*float)
            .map(Value::Number)
            .ok_or_else(|| format!("the result {float} is not a finite number"))?,
        cel::Value::String(text) => Value::String(text.to_string()),
        cel::Value::List(items) => {
            Value::Array(items.iter().map(from_cel).collect::<Result<_, _>>()?)
        }
        cel::Value::Map(map) => {
            let mut object = Map::with_capacity(map.map.len());
            for (key, value) in map.map.iter() {
                object.insert(key.to_string(), from_cel(value)?);
            }
            Value::Object(object)
        }
        other => other
            .json()
            .map_err(|error| format!("the result cannot be written as JSON: {error}"))?,
    })
}
