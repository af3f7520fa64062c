//! The OpenAPI 3.1 document, generated from the handlers' types: each route file declares its
//! paths and schemas with `#[derive(utoipa::OpenApi)]` (handlers carry `#[utoipa::path]`,
//! request/response types `#[derive(utoipa::ToSchema)]`) and exposes them as
//! `pub(crate) fn openapi() -> utoipa::openapi::OpenApi`; this file merges them.

use utoipa::OpenApi;

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
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_lists_the_routes() {
        let doc = super::spec();
        assert!(doc.paths.paths.contains_key("/health"));
    }
}
