//! Linking a companion device to a primary phone: QR linking and phone-number ("pair code")
//! linking, for both roles (`login-pairing.md` §4 and §5).
//!
//! * [`qr`]: the QR string the companion shows and the parser a simulated phone uses.
//! * [`adv`]: the ADV device identity the primary signs (pair-success) and the companion verifies
//!   and countersigns (pair-device-sign).
//! * [`code`]: the 8-character pair code, the PBKDF2/AES-CTR wrapping of the ephemeral keys, the
//!   stage-2 key bundle and the derived ADV secret, as typestates for both roles.
//! * [`props`]: the `ClientPairingProps` of pair-success (LID migration, §4.4).
//! * [`stanza`]: builders and strict parsers for every node of both flows.
//!
//! Everything is sans-IO: randomness is a caller-supplied [`rand_core::CryptoRngCore`], times are
//! parameters, and every failure is a [`PairError`] (never a panic).
//!
//! ```text
//!  QR:        server ─pair-device(refs)▶ companion ─qr_string▶ phone (QrData::parse)
//!             phone sign_companion ─pair-success▶ companion verify_pair_success
//!             companion ─pair-device-sign(reply)▶ server verify_pair_device_sign ─▶ 515
//!  pair code: companion PairCodeRequest ─companion_hello▶ server ─(ref)▶ companion
//!             phone PrimaryCodeHello ─primary_hello▶ companion PairCodeFinish
//!             companion ─companion_finish▶ phone companion_finish → same ADV secret ─▶ pair-success
//! ```

pub mod adv;
pub mod code;
pub(crate) mod error;
pub mod props;
pub mod qr;
pub mod stanza;

#[cfg(test)]
mod tests;

pub use adv::{
    sign_companion, sign_companion_with, stored_key_index, verify_pair_device_sign,
    verify_pair_success, AdvGrant, PairedDevice,
};
pub use code::{PairCode, PairCodeFinish, PairCodeRequest, PrimaryCodeHello, PrimaryCodeLinked};
pub use error::PairError;
pub use props::{PairingProps, MAX_CLIENT_PROPS};
pub use qr::{qr_string, QrData, QR_PREFIX};
