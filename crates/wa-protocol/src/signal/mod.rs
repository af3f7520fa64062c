//! Signal protocol primitives as WhatsApp uses them.
//!
//! The foundation issue brings only what the transport needs: Curve25519 key pairs and the
//! libsignal flavour of XEdDSA signatures (used by the server certificate chain, the signed prekey
//! and the ADV identities). X3DH, the double ratchet and sender keys arrive with the Signal issue.

pub mod curve;

pub use curve::{KeyPair, PrivateKey, PublicKey, Signature, DJB_TYPE, SIGNATURE_LEN};
