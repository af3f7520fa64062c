//! The webhook body (CONTRACTS §B.6 "Encoding"). The payload object is
//! `{"type": "<Type>", "event": {…}, …extras}`; it goes out
//! - as a form (the default): `application/x-www-form-urlencoded` with `jsonData=<the payload
//!   as a JSON string>`, `userID=<account id>`, `instanceName=<account name>`, keys sorted
//!   (the bytes the signature covers, [`super::sign`]);
//! - as JSON (`WEBHOOK_FORMAT=json`): the payload object itself with `userID` and
//!   `instanceName` added at the top level.
//!
//! Since 2025-10-30 wuzapi sends `userID` where it used to send the user's `token`; wagate
//! follows the current form, and adds the legacy `token` field only when the operator asks
//! for it (`--webhook-include-token` / `WAGATE_WEBHOOK_INCLUDE_TOKEN`, CONTRACTS §E item 4:
//! multi-tenant receivers that map events by token).

use serde_json::{Map, Value};

use super::types::Format;

/// An encoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The bytes (what the signature covers).
    pub body: Vec<u8>,
}

/// Who the event belongs to, as the body names it. Its `Debug` masks the token.
#[derive(Clone, Copy)]
pub struct Owner<'a> {
    /// The account id (32 hex).
    pub user_id: &'a str,
    /// The account's name.
    pub instance_name: &'a str,
    /// The account's token, only when the legacy `token` field is asked for.
    pub token: Option<&'a str>,
}

impl std::fmt::Debug for Owner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("user_id", &self.user_id)
            .field("instance_name", &self.instance_name)
            .field("token", &self.token.map(|_| "<redacted>"))
            .finish()
    }
}

/// Encodes `payload` for `owner` in `format`.
pub fn encode(payload: &Map<String, Value>, owner: Owner<'_>, format: Format) -> Encoded {
    match format {
        Format::Json => {
            let mut object = payload.clone();
            object.insert("userID".into(), Value::from(owner.user_id));
            object.insert("instanceName".into(), Value::from(owner.instance_name));
            if let Some(token) = owner.token {
                object.insert("token".into(), Value::from(token));
            }
            Encoded {
                content_type: "application/json",
                body: Value::Object(object).to_string().into_bytes(),
            }
        }
        Format::Form => {
            let json = Value::Object(payload.clone()).to_string();
            // Keys in sorted order, as Go's `url.Values.Encode` writes them.
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("instanceName", owner.instance_name)
                .append_pair("jsonData", &json);
            if let Some(token) = owner.token {
                form.append_pair("token", token);
            }
            form.append_pair("userID", owner.user_id);
            Encoded {
                content_type: "application/x-www-form-urlencoded",
                body: form.finish().into_bytes(),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Map<String, Value> {
        match json!({"type": "Message", "event": {"Info": {"ID": "3EB0AA"}}}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    const OWNER: Owner<'static> = Owner {
        user_id: "0123456789abcdef0123456789abcdef",
        instance_name: "my shop",
        token: None,
    };

    #[test]
    fn the_legacy_token_field_only_when_asked_for() {
        let owner = Owner {
            token: Some("tok-1"),
            ..OWNER
        };
        let form = String::from_utf8(encode(&payload(), owner, Format::Form).body).unwrap();
        assert!(
            form.ends_with("&token=tok-1&userID=0123456789abcdef0123456789abcdef"),
            "{form}"
        );
        let json: Value =
            serde_json::from_slice(&encode(&payload(), owner, Format::Json).body).unwrap();
        assert_eq!(json["token"], "tok-1");
        let without = String::from_utf8(encode(&payload(), OWNER, Format::Form).body).unwrap();
        assert!(!without.contains("token="), "{without}");
        let json: Value =
            serde_json::from_slice(&encode(&payload(), OWNER, Format::Json).body).unwrap();
        assert!(json.get("token").is_none());
    }

    #[test]
    fn json_adds_the_owner_at_the_top_level() {
        let e = encode(&payload(), OWNER, Format::Json);
        assert_eq!(e.content_type, "application/json");
        let v: Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(v["type"], "Message");
        assert_eq!(v["event"]["Info"]["ID"], "3EB0AA");
        assert_eq!(v["userID"], OWNER.user_id);
        assert_eq!(v["instanceName"], "my shop");
    }

    #[test]
    fn the_form_carries_json_data_and_sorted_keys() {
        let e = encode(&payload(), OWNER, Format::Form);
        assert_eq!(e.content_type, "application/x-www-form-urlencoded");
        let text = String::from_utf8(e.body).unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["instanceName", "jsonData", "userID"]);
        assert_eq!(pairs[0].1, "my shop");
        let data: Value = serde_json::from_str(&pairs[1].1).unwrap();
        assert_eq!(data, Value::Object(payload()));
        assert!(
            text.starts_with("instanceName=my+shop&jsonData=%7B"),
            "{text}"
        );
    }
}
