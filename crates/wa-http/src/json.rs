//! Request bodies decoded with Go's `encoding/json` semantics (CONTRACTS §A.0): field names match
//! case-insensitively, unknown fields are ignored, missing fields (and `null`) take zero values, a
//! type mismatch or an empty body is `400 could not decode Payload`.
//!
//! How: every object key of the body is lowercased before serde sees it, so a request type
//! declares each field under its lowercase wire name (`#[serde(rename = "groupjid")] group_jid`)
//! and `#[serde(default)]` on the struct. Underscores stay significant (`proxy_url` ≠ `proxyurl`),
//! as in Go.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON body decoded the Go way; rejects with [`ApiError::Decode`] (or 413).
#[derive(Debug, Clone, Copy, Default)]
pub struct GoJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for GoJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Decode
            }
        })?;
        decode(&bytes).map(GoJson)
    }
}

/// Decodes `bytes` the Go way. Where an object is expected, a top-level array is refused (Go's
/// decoder refuses it for a struct; serde would read a struct from a sequence) and a top-level
/// `null` is the zero value (Go leaves the struct as it is).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::Decode)?;
    if (value.is_array() || value.is_null()) && wants_object::<T>() {
        if value.is_array() {
            return Err(ApiError::Decode);
        }
        value = Value::Object(serde_json::Map::new());
    }
    fold_keys(&mut value);
    serde_json::from_value(value).map_err(|_| ApiError::Decode)
}

/// Whether `T` is read from a JSON object (a struct or a map): asks `T` to deserialize itself
/// from [`Probe`], which only notes what it was asked for.
fn wants_object<T: DeserializeOwned>() -> bool {
    matches!(T::deserialize(Probe), Err(Probed { object: true }))
}

/// What [`Probe`] was asked for.
#[derive(Debug)]
struct Probed {
    object: bool,
}

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "probed (object: {})", self.object)
    }
}

impl std::error::Error for Probed {}

impl serde::de::Error for Probed {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Probed { object: false }
    }
}

/// A deserializer with no data: it fails every request, saying whether an object was asked.
struct Probe;

impl<'de> serde::Deserializer<'de> for Probe {
    type Error = Probed;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed { object: false })
    }

    fn deserialize_map<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed { object: true })
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed { object: true })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

/// Lowercases every object key and drops `null` members (Go leaves the zero value), recursively.
/// Of two keys that fold to the same name the later wins, as in Go.
fn fold_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (key, mut v) in old {
                if v.is_null() {
                    continue;
                }
                fold_keys(&mut v);
                map.insert(key.to_lowercase(), v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fold_keys),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Send {
        #[serde(rename = "phone")]
        phone: String,
        #[serde(rename = "body")]
        body: String,
        #[serde(rename = "proxy_url")]
        proxy_url: String,
        #[serde(rename = "contextinfo")]
        context: Option<Context>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Context {
        #[serde(rename = "stanzaid")]
        stanza_id: String,
    }

    #[test]
    fn names_match_case_insensitively_and_unknown_fields_are_ignored() {
        let s: Send =
            decode(br#"{"PHONE":"5511","Body":"hi","extra":1,"ContextInfo":{"StanzaID":"3EB0"}}"#)
                .unwrap();
        assert_eq!(s.phone, "5511");
        assert_eq!(s.body, "hi");
        assert_eq!(s.context.unwrap().stanza_id, "3EB0");
    }

    #[test]
    fn underscores_stay_significant_and_null_is_zero() {
        let s: Send = decode(br#"{"proxyUrl":"x","Body":null}"#).unwrap();
        assert_eq!(s.proxy_url, "");
        assert_eq!(s.body, "");
    }

    #[test]
    fn type_mismatch_and_empty_bodies_are_decode_errors() {
        assert!(matches!(
            decode::<Send>(br#"{"Phone":5511}"#),
            Err(ApiError::Decode)
        ));
        assert!(matches!(decode::<Send>(b""), Err(ApiError::Decode)));
        assert!(matches!(decode::<Send>(b"[1]"), Err(ApiError::Decode)));
    }

    /// Go's decoder refuses an array for a struct even when every field has a zero value
    /// (`cannot unmarshal array into Go value of type …` → `could not decode Payload`); serde
    /// alone would read `[]` as a struct of defaults. `null` stays the zero value, as in Go.
    #[test]
    fn a_top_level_array_is_not_an_object() {
        assert!(matches!(decode::<Send>(b"[]"), Err(ApiError::Decode)));
        assert!(matches!(decode::<Context>(b" [ ] "), Err(ApiError::Decode)));
        let map = decode::<std::collections::HashMap<String, String>>(b"[]");
        assert!(matches!(map, Err(ApiError::Decode)));
        assert_eq!(decode::<Send>(b"null").unwrap(), Send::default());
        assert_eq!(decode::<Vec<u8>>(b"[]").unwrap(), Vec::<u8>::new());
        assert_eq!(
            decode::<Vec<Context>>(br#"[{"StanzaId":"a"}]"#)
                .unwrap()
                .len(),
            1
        );
    }
}
