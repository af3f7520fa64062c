//! The OpenAPI 3.1 document, generated from the handlers' types: each route file declares its
//! paths and schemas with `#[derive(utoipa::OpenApi)]` (handlers carry `#[utoipa::path]`,
//! request/response types `#[derive(utoipa::ToSchema)]`) and exposes them as
//! `pub(crate) fn openapi() -> utoipa::openapi::OpenApi`; this file merges them and adds the
//! three ways of authenticating (CONTRACTS §A.0, §C.1) as security schemes.
//!
//! Security: a handler may name its scheme itself (`security(("token" = []))`); an operation
//! that names none gets one from its path and tag ([`scheme_for`]): `/health` and `/ping` none,
//! `/admin/**` [`ADMIN`], the whatsapp-web.js dialect (tag `wwebjs`, or a `{…}` parameter under
//! `/session/` or `/client/`) [`API_KEY`], everything else [`TOKEN`]. Every operation with a
//! scheme documents its refusal: `401` in the envelope (`ApiError` schema), or the
//! whatsapp-web.js dialect's `403` (`PlainError`), unless it documents that status itself.
//! A wuzapi handler documents the `data` of its `Envelope<T>` (`body = T`); the 2xx schemas of
//! the dialect's operations are wrapped in the envelope here ([`wrap_in_envelope`]).

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::OpenApi;

/// The user token scheme: header `token` (wuzapi also takes `?token=`; CONTRACTS §A.0).
pub const TOKEN: &str = "token";
/// The admin token scheme: header `Authorization`, the bare token (no `Bearer`; §A.1).
pub const ADMIN: &str = "admin";
/// The whatsapp-web.js dialect's scheme: header `x-api-key` (§C.1).
pub const API_KEY: &str = "apiKey";

#[derive(OpenApi)]
#[openapi(info(
    title = "wagate",
    description = "A self-contained WhatsApp gateway: the wuzapi API (primary) and the \
                   whatsapp-web.js REST dialect"
))]
struct Root;

/// The whole document.
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut doc = Root::openapi();
    doc.merge(crate::wuzapi::openapi());
    doc.merge(crate::wwebjs::openapi());
    doc.merge(crate::webhooks::deadletter::openapi());
    doc.merge(crate::pool::openapi());
    doc.merge(crate::objects::routes::openapi());
    add_security(&mut doc);
    doc
}

/// Declares the three schemes and gives every operation that names none its scheme.
fn add_security(doc: &mut utoipa::openapi::OpenApi) {
    let header = |name: &str, text: &str| {
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(name, text)))
    };
    let mut components = doc
        .components
        .take()
        .unwrap_or_else(|| ComponentsBuilder::new().build());
    components.add_security_scheme(TOKEN, header("token", "A user's token (wuzapi)"));
    components.add_security_scheme(
        ADMIN,
        header("Authorization", "The admin token, bare (no `Bearer`)"),
    );
    components.add_security_scheme(
        API_KEY,
        header("x-api-key", "The whatsapp-web.js dialect's API key"),
    );
    components
        .schemas
        .insert("ApiError".into(), error_schema(true));
    components
        .schemas
        .insert("PlainError".into(), error_schema(false));
    doc.components = Some(components);
    let schemas = doc
        .components
        .as_ref()
        .map(|c| c.schemas.clone())
        .unwrap_or_default();
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for op in operations.into_iter().flatten() {
            if op.security.is_none() {
                op.security = Some(match scheme_for(path, op) {
                    Some(scheme) => vec![SecurityRequirement::new(scheme, Vec::<String>::new())],
                    None => Vec::new(),
                });
            }
            document_refusal(op);
            if scheme_for(path, op).is_some_and(|s| s != API_KEY) && !RAW.contains(&path.as_str()) {
                wrap_in_envelope(op, &schemas);
            }
        }
    }
}

/// wuzapi routes that answer outside the envelope besides `/health` (CONTRACTS §A.0).
const RAW: [&str; 1] = ["/session/hmac/config"];

/// A wuzapi handler documents its answer's `data` (`body = T` for an `Envelope<T>`): the 2xx
/// JSON schemas of the dialect's operations become `{"code", "data": T, "success"}` unless they
/// describe an envelope already (a `success` property).
fn wrap_in_envelope(op: &mut Operation, schemas: &BTreeMap<String, RefOr<Schema>>) {
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !status.starts_with('2') {
            continue;
        }
        let Some(content) = response.content.get_mut("application/json") else {
            continue;
        };
        let Some(schema) = content.schema.take() else {
            continue;
        };
        content.schema = Some(if is_envelope(&schema, schemas) {
            schema
        } else {
            RefOr::T(
                ObjectBuilder::new()
                    .property("code", ObjectBuilder::new().schema_type(Type::Integer))
                    .required("code")
                    .property("data", schema)
                    .required("data")
                    .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
                    .required("success")
                    .build()
                    .into(),
            )
        });
    }
}

fn is_envelope(schema: &RefOr<Schema>, schemas: &BTreeMap<String, RefOr<Schema>>) -> bool {
    let resolved = match schema {
        RefOr::Ref(r) => r
            .ref_location
            .strip_prefix("#/components/schemas/")
            .and_then(|name| schemas.get(name)),
        RefOr::T(_) => Some(schema),
    };
    resolved
        .and_then(|s| serde_json::to_value(s).ok())
        .is_some_and(|v| v["properties"]["success"].is_object())
}

/// Adds the refusal of a wrong or missing credential to an operation that has a scheme.
fn document_refusal(op: &mut Operation) {
    // SecurityRequirement keeps its scheme names private; its JSON form shows them.
    let scheme = op.security.iter().flatten().find_map(|req| {
        serde_json::to_value(req)
            .ok()?
            .as_object()?
            .keys()
            .next()
            .cloned()
    });
    let (status, text, schema) = match scheme.as_deref() {
        None => return,
        Some(API_KEY) => (
            "403",
            "Missing or wrong `x-api-key` (`Invalid API key`)",
            "PlainError",
        ),
        Some(_) => ("401", "Missing or wrong token (`unauthorized`)", "ApiError"),
    };
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(refusal(text, schema)));
}

fn refusal(text: &str, schema: &str) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build();
    ResponseBuilder::new()
        .description(text)
        .content("application/json", content)
        .build()
}

/// wuzapi's error envelope `{"code", "error", "success": false}` (`envelope`), or the
/// whatsapp-web.js dialect's `{"success": false, "error"}` (`plain`).
fn error_schema(envelope: bool) -> RefOr<utoipa::openapi::Schema> {
    let mut object = ObjectBuilder::new()
        .property("error", ObjectBuilder::new().schema_type(Type::String))
        .required("error")
        .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
        .required("success");
    if envelope {
        object = object
            .property("code", ObjectBuilder::new().schema_type(Type::Integer))
            .required("code");
    }
    RefOr::T(object.build().into())
}

/// The scheme an operation that names none needs (`None`: no authentication).
fn scheme_for(path: &str, op: &Operation) -> Option<&'static str> {
    let tagged = |t: &str| op.tags.iter().flatten().any(|tag| tag == t);
    if path == "/health" || path == "/ping" {
        None
    } else if path == "/admin" || path.starts_with("/admin/") {
        Some(ADMIN)
    } else if tagged("wwebjs")
        || ((path.starts_with("/session/") || path.starts_with("/client/")) && path.contains('{'))
    {
        Some(API_KEY)
    } else {
        Some(TOKEN)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn the_document_lists_the_routes() {
        let doc = super::spec();
        assert!(doc.paths.paths.contains_key("/health"));
    }

    #[test]
    fn the_document_declares_the_three_schemes_and_health_needs_none() {
        let doc = super::spec();
        let json = serde_json::to_value(&doc).unwrap();
        let schemes = &json["components"]["securitySchemes"];
        assert_eq!(schemes["token"]["in"], "header");
        assert_eq!(schemes["token"]["name"], "token");
        assert_eq!(schemes["admin"]["name"], "Authorization");
        assert_eq!(schemes["apiKey"]["name"], "x-api-key");
        assert_eq!(
            json["paths"]["/health"]["get"]["security"],
            serde_json::json!([])
        );
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
    }

    #[test]
    fn secured_operations_document_their_refusal() {
        use super::{document_refusal, API_KEY, TOKEN};
        use utoipa::openapi::path::OperationBuilder;
        use utoipa::openapi::security::SecurityRequirement;
        for (scheme, status) in [(TOKEN, "401"), (API_KEY, "403")] {
            let mut op = OperationBuilder::new()
                .security(SecurityRequirement::new(scheme, Vec::<String>::new()))
                .build();
            document_refusal(&mut op);
            assert!(op.responses.responses.contains_key(status), "{scheme}");
        }
        let mut open = OperationBuilder::new().build();
        document_refusal(&mut open);
        assert!(open.responses.responses.is_empty());
    }

    #[test]
    fn wuzapi_answers_are_documented_inside_the_envelope() {
        use super::wrap_in_envelope;
        use utoipa::openapi::path::OperationBuilder;
        use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, ResponsesBuilder};
        let data = ObjectBuilder::new().property("QRCode", ObjectBuilder::new());
        let response = ResponseBuilder::new()
            .description("ok")
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(data)).build(),
            )
            .build();
        let mut op = OperationBuilder::new()
            .responses(ResponsesBuilder::new().response("200", response).build())
            .build();
        wrap_in_envelope(&mut op, &Default::default());
        let json = serde_json::to_value(&op).unwrap();
        let schema = &json["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(
            schema["properties"]["data"]["properties"]["QRCode"].is_object(),
            "{schema}"
        );
        assert_eq!(
            schema["required"],
            serde_json::json!(["code", "data", "success"])
        );
        // Already an envelope: left alone.
        wrap_in_envelope(&mut op, &Default::default());
        let again = serde_json::to_value(&op).unwrap();
        assert_eq!(again, json);
    }
}
