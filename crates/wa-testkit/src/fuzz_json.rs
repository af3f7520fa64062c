//! Arbitrary request bodies for the HTTP API's property tests (issue 11: "property/fuzz test over
//! the JSON bodies of every route"), and the routes to send them to, read from the OpenAPI
//! document so that a new route is covered without touching the tests.
//!
//! A body is JSON text, mostly an object whose keys are the route's own field names (in any
//! letter case, since wuzapi matches them case-insensitively) with values of every type: wrong
//! types, numbers beyond `u64` and `f64`, long and non-ASCII strings, phone-like strings, nested
//! arrays and objects. Some bodies are not JSON at all: truncated text, nesting hundreds deep,
//! stray bytes, nothing.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

/// One operation of the document.
#[derive(Debug, Clone)]
pub struct SpecRoute {
    /// Upper-case method (`GET`, `POST`, …).
    pub method: String,
    /// The path template (`/session/status/{sessionId}`).
    pub path: String,
    /// Field names of its JSON request body, nested ones included (empty if it takes none).
    pub fields: Vec<String>,
    /// The name of its security scheme (`None`: no authentication).
    pub scheme: Option<String>,
}

/// Every operation of an OpenAPI document (as JSON), in path order.
pub fn spec_routes(spec: &Value) -> Vec<SpecRoute> {
    let mut routes = Vec::new();
    let Some(paths) = spec["paths"].as_object() else {
        return routes;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
            ) {
                continue;
            }
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let mut fields = Vec::new();
            collect_fields(spec, schema, 0, &mut fields);
            fields.sort();
            fields.dedup();
            let scheme = op["security"]
                .as_array()
                .and_then(|reqs| reqs.first())
                .and_then(Value::as_object)
                .and_then(|req| req.keys().next().cloned());
            routes.push(SpecRoute {
                method: method.to_uppercase(),
                path: path.clone(),
                fields,
                scheme,
            });
        }
    }
    routes
}

/// Property names of `schema`, following `$ref`s into `components/schemas` (6 levels at most).
fn collect_fields(spec: &Value, schema: &Value, depth: usize, out: &mut Vec<String>) {
    if depth > 6 {
        return;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            collect_fields(spec, &spec["components"]["schemas"][name], depth + 1, out);
        }
        return;
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, sub) in props {
            out.push(name.clone());
            collect_fields(spec, sub, depth + 1, out);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            collect_fields(spec, sub, depth + 1, out);
        }
    }
    collect_fields_items(spec, schema, depth, out);
}

fn collect_fields_items(spec: &Value, schema: &Value, depth: usize, out: &mut Vec<String>) {
    if schema["items"].is_object() {
        collect_fields(spec, &schema["items"], depth + 1, out);
    }
    if schema["additionalProperties"].is_object() {
        collect_fields(spec, &schema["additionalProperties"], depth + 1, out);
    }
}

/// A path with each `{param}` replaced by one of `values` (cycled), percent-encoded.
pub fn fill_path(template: &str, values: &[String]) -> String {
    let mut out = String::new();
    let mut rest = template;
    let mut i = 0;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let value = values
            .get(i % values.len().max(1))
            .map_or("x", String::as_str);
        out.push_str(&percent_encode(value));
        i += 1;
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@' | b'+') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// Values for path parameters: ids, phone numbers in every form, unicode, nonsense.
pub fn path_values() -> impl Strategy<Value = Vec<String>> {
    let one = prop_oneof![
        Just("5511999990001".to_owned()),
        Just("+5511999990001@s.whatsapp.net".to_owned()),
        Just("120363000000000001@g.us".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        "[a-zA-Z0-9_-]{1,40}",
        any::<String>(),
    ];
    vec(one, 1..3)
}

/// A request body for a route with these field names.
pub fn body(fields: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let object = object_text(fields, 4);
    prop_oneof![
        6 => object.prop_map(String::into_bytes),
        2 => json_text(Vec::new(), 3).prop_map(String::into_bytes),
        1 => (1usize..400, any::<bool>()).prop_map(|(depth, arrays)| deep(depth, arrays)),
        1 => (json_text(Vec::new(), 2), any::<prop::sample::Index>())
            .prop_map(|(text, cut)| truncated(&text, cut)),
        1 => vec(any::<u8>(), 0..64),
    ]
}

/// An object whose keys are mostly `fields` (any letter case), values of any type.
fn object_text(fields: Vec<String>, depth: u32) -> impl Strategy<Value = String> {
    let value = json_text(fields.clone(), depth);
    vec((key(fields), value), 0..8).prop_map(|members| render_object(&members))
}

/// Any JSON value as text, object keys drawn from `fields` when there are some.
fn json_text(fields: Vec<String>, depth: u32) -> impl Strategy<Value = String> {
    leaf().prop_recursive(depth, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
            vec((key(fields.clone()), inner), 0..6).prop_map(|members| render_object(&members)),
        ]
    })
}

fn render_object(members: &[(String, String)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A key: one of `fields` in some letter case, or anything.
fn key(fields: Vec<String>) -> BoxedStrategy<String> {
    let any_key = prop_oneof![Just(String::new()), "[a-zA-Z_]{1,12}", any::<String>()];
    if fields.is_empty() {
        return any_key.boxed();
    }
    let known = (proptest::sample::select(fields), 0u8..3).prop_map(|(f, case)| match case {
        0 => f,
        1 => f.to_lowercase(),
        _ => f.to_uppercase(),
    });
    prop_oneof![4 => known, 1 => any_key].boxed()
}

/// A scalar: every JSON type, with the edges a decoder trips on.
fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::from(f).to_string()),
        prop::sample::select(vec![
            "1e400",
            "-1e400",
            "123456789012345678901234567890",
            "-123456789012345678901234567890",
            "0.000000000000000000000000000001",
            "-0",
            "18446744073709551616",
            "-9223372036854775809",
        ])
        .prop_map(str::to_owned),
        string().prop_map(|s| Value::String(s).to_string()),
        // A lone surrogate: JSON that Go accepts and serde_json does not.
        Just(r#""\ud800""#.to_owned()),
    ]
}

/// Strings that mean something to the routes, and strings that mean nothing.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("5511999990001".to_owned()),
        Just("+5511999990001".to_owned()),
        Just("5511999990001@s.whatsapp.net".to_owned()),
        Just("120363000000000001@g.us".to_owned()),
        Just("data:image/png;base64,iVBORw0KGgo=".to_owned()),
        Just("http://127.0.0.1:1/hook".to_owned()),
        Just("All".to_owned()),
        any::<String>(),
        "\\PC{0,64}",
        (1usize..20_000).prop_map(|n| "a".repeat(n)),
    ]
}

fn deep(depth: usize, arrays: bool) -> Vec<u8> {
    let (open, close) = if arrays {
        ("[", "]")
    } else {
        ("{\"Phone\":", "}")
    };
    let mut text = open.repeat(depth);
    text.push('1');
    text.push_str(&close.repeat(depth));
    text.into_bytes()
}

fn truncated(text: &str, cut: prop::sample::Index) -> Vec<u8> {
    let bytes = text.as_bytes();
    bytes[..cut.index(bytes.len() + 1)].to_vec()
}

/// The S3 routes' documented 500 texts, which end with the cause (CONTRACTS §A.2): settings
/// that make no client, a bucket that fails the connection test.
pub const S3_500_PREFIXES: [&str; 2] = [
    "failed to initialize S3 client: ",
    "S3 connection test failed: ",
];

/// Whether an answer to an arbitrary request is acceptable: no 5xx but `501` and a `500` whose
/// `error` is one of `documented_500` (wuzapi's session refusals, CONTRACTS §A.0) or starts
/// with one of [`S3_500_PREFIXES`], and every
/// refusal JSON with `success: false` and an `error` (or, in the whatsapp-web.js dialect, a
/// `message`, §C.2) text. Returns why not.
pub fn check_answer(status: u16, body: &[u8], documented_500: &[&str]) -> Result<(), String> {
    if status < 400 {
        return Ok(());
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "{status} with a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })?;
    let refused = json["success"] == Value::Bool(false);
    if !refused || !(json["error"].is_string() || json["message"].is_string()) {
        return Err(format!("{status} without success:false and a text: {json}"));
    }
    let text = json["error"].as_str().unwrap_or_default();
    let documented = status == 501
        || (status == 500
            && (documented_500.contains(&text)
                || S3_500_PREFIXES.iter().any(|p| text.starts_with(p))));
    if status >= 500 && !documented {
        return Err(format!("undocumented {status}: {json}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_judged() {
        let refusals = ["no session"];
        assert!(check_answer(200, b"anything", &refusals).is_ok());
        let ok_500 = br#"{"code":500,"error":"no session","success":false}"#;
        assert!(check_answer(500, ok_500, &refusals).is_ok());
        let bad_500 = br#"{"code":500,"error":"internal error","success":false}"#;
        assert!(check_answer(500, bad_500, &refusals).is_err());
        assert!(check_answer(400, b"404 page not found", &refusals).is_err());
        let plain = br#"{"success":false,"message":"session_not_found"}"#;
        assert!(check_answer(404, plain, &refusals).is_ok());
    }

    #[test]
    fn paths_are_filled_and_encoded() {
        let values = vec!["a b".to_owned(), "5511".to_owned()];
        assert_eq!(fill_path("/x/{id}/y/{n}", &values), "/x/a%20b/y/5511");
        assert_eq!(fill_path("/health", &values), "/health");
    }

    #[test]
    fn routes_and_fields_come_from_the_document() {
        let spec = serde_json::json!({
            "paths": {"/chat/send/text": {"post": {
                "security": [{"token": []}],
                "requestBody": {"content": {"application/json": {"schema":
                    {"$ref": "#/components/schemas/Send"}}}}}}},
            "components": {"schemas": {"Send": {"properties": {
                "Phone": {"type": "string"},
                "ContextInfo": {"properties": {"StanzaId": {"type": "string"}}}}}}}
        });
        let routes = spec_routes(&spec);
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].method, "POST");
        assert_eq!(routes[0].fields, ["ContextInfo", "Phone", "StanzaId"]);
        assert_eq!(routes[0].scheme.as_deref(), Some("token"));
    }
}
