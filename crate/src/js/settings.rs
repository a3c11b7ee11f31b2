//! Settings objects from JavaScript (a `TrainConfig`, `DataOptions`) read as strictly as the
//! command line reads its config files: serde-wasm-bindgen looks up only the fields a struct
//! knows, so a misspelt key would be ignored, and its type errors do not say which setting they
//! are about. Here an unknown key is refused with the nearest known one named, and a value of
//! the wrong type names its setting (`optimizer.lr`).

use js_sys::{Array, Object, Reflect};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use wasm_bindgen::JsValue;

use super::convert::error;
use crate::data::DataOptions;
use crate::session::Session;
use crate::train::{TrainConfig, explain_unknown_field};

fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

/// The fields of object `value` (at `path`): each key, its path and its value.
fn entries(value: &JsValue, path: &str) -> Vec<(String, String, JsValue)> {
    Object::keys(&Object::from(value.clone()))
        .iter()
        .filter_map(|k| k.as_string())
        .map(|key| {
            let inner = Reflect::get(value, &key.as_str().into()).unwrap_or(JsValue::UNDEFINED);
            let at = match path {
                "" => key.clone(),
                _ => format!("{path}.{key}"),
            };
            (key, at, inner)
        })
        .collect()
}

/// The first key of `value` (at `path`) that `known` (the defaults, as JSON) does not have, as
/// serde's "unknown field" message with the setting meant.
fn unknown_key(value: &JsValue, known: &Value, path: &str) -> Option<String> {
    let (Value::Object(fields), true) = (known, is_plain_object(value)) else {
        return None;
    };
    for (key, at, inner) in entries(value, path) {
        match fields.get(&key) {
            Some(field) if !tagged(field) => {
                if let Some(found) = unknown_key(&inner, field, &at) {
                    return Some(found);
                }
            }
            // A tagged choice's fields depend on its kind: serde checks them.
            Some(_) => {}
            None => {
                let expected: Vec<String> = fields.keys().map(|k| format!("`{k}`")).collect();
                let serde = format!(
                    "unknown field `{key}`, expected one of {}",
                    expected.join(", ")
                );
                let explained = explain_unknown_field(&serde);
                let hint = explained.strip_prefix(&serde).unwrap_or_default();
                return Some(format!("`{at}` is not a setting{hint}"));
            }
        }
    }
    None
}

/// Whether a default is one variant of a choice tagged by `kind` (`objective`), whose other
/// variants have other fields.
fn tagged(known: &Value) -> bool {
    known.get("kind").is_some()
}

/// The settings of `value` one by one (`path`, value), descending into objects `known` has
/// (a tagged choice is one setting).
fn leaves(value: &JsValue, known: &Value, path: &str, out: &mut Vec<(String, JsValue)>) {
    for (key, at, inner) in entries(value, path) {
        match known.get(&key) {
            Some(field @ Value::Object(_)) if is_plain_object(&inner) && !tagged(field) => {
                leaves(&inner, field, &at, out);
            }
            _ => out.push((at, inner)),
        }
    }
}

/// An object holding only `value` at `path`.
fn only(path: &str, value: JsValue) -> JsValue {
    path.rsplit('.').fold(value, |inner, key| {
        let object = Object::new();
        let _ = Reflect::set(&object, &key.into(), &inner);
        object.into()
    })
}

/// `value` (a plain object; `undefined` or `null` for the defaults) as `T`, refusing unknown
/// keys and naming the setting whose value does not fit; `what` names the object.
pub fn settings_from_js<T>(value: JsValue, what: &str) -> Result<T, JsValue>
where
    T: DeserializeOwned + Serialize + Default,
{
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    let known = serde_json::to_value(T::default()).unwrap_or(Value::Null);
    if let Some(problem) = unknown_key(&value, &known, "") {
        return Err(error("setting", &format!("{what}: {problem}")));
    }
    serde_wasm_bindgen::from_value(value.clone()).map_err(|err| {
        let mut all = Vec::new();
        if is_plain_object(&value) {
            leaves(&value, &known, "", &mut all);
        }
        let culprit = all.into_iter().find_map(|(path, leaf)| {
            serde_wasm_bindgen::from_value::<T>(only(&path, leaf))
                .err()
                .map(|e| format!("`{path}`: {e}"))
        });
        error(
            "setting",
            &format!("{what}: {}", culprit.unwrap_or_else(|| err.to_string())),
        )
    })
}

/// A run's `TrainConfig` from JavaScript (see [`settings_from_js`]). A run trains on the
/// dataset as `loadDataset` read it, so a `data` given here must be those options (packing
/// aside): different ones are refused rather than ignored.
pub fn train_config(value: JsValue, session: &Session) -> Result<TrainConfig, JsValue> {
    let has_data = is_plain_object(&value) && Reflect::has(&value, &"data".into()).unwrap_or(false);
    let config: TrainConfig = settings_from_js(value, "training config")?;
    if let (true, Some(loaded)) = (has_data, session.data_options()) {
        let asked = DataOptions {
            packing: loaded.packing,
            ..config.data.clone()
        };
        if &asked != loaded {
            let json = |o: &DataOptions| serde_json::to_string(o).unwrap_or_default();
            return Err(error(
                "setting",
                &format!(
                    "training config: `data` ({}) is not what the dataset was loaded with ({}): \
                     pass data options to loadDataset (only `data.packing` may differ)",
                    json(&asked),
                    json(loaded)
                ),
            ));
        }
    }
    Ok(config)
}
