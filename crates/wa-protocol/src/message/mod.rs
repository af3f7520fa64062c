//! Messaging over Signal (`messaging.md` §5–§11), as pure functions over records: plan a send
//! → per-device ciphertext + records to persist; decrypt → plaintext + records to persist.
//! Plaintexts are bytes already padded by the caller (`signal::padding`); the content layer
//! (the `waE2E.Message` encoder) lives beside these modules.
//!
//! * [`fanout`]: one padded plaintext per group of recipient devices → `pkmsg`/`msg` per device.
//! * [`receive`]: decrypt an incoming pairwise `<enc>`; classify failures (retry receipt,
//!   duplicate, nack).
//! * [`group`]: sender keys (SKDM, `skmsg`), who needs our SKDM, when to rotate, `phash`.
//! * [`retry`]: the keys a retry receipt carries and both sides' retry rules.

pub mod fanout;
pub mod group;
pub mod receive;
pub mod retry;
