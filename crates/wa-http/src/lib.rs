//! # wa-http
//!
//! The HTTP face of wagate: axum routes in the wuzapi dialect (`token` header, the
//! `{code, data, success}` envelope, webhooks) and the whatsapp-web.js REST dialect (`x-api-key`,
//! `/session/start/{id}`), with every error mapped to an HTTP status in exactly one place.
//!
//! ```text
//! app backend ──HTTP──▶ handlers (thin) ──commands──▶ wa-client registry
//!      ▲                                                   │ events
//!      └────────────── webhooks (HMAC-signed) ◀────────────┘
//! ```
//!
//! The foundation issue only creates this crate; the HTTP issues fill it.
