//! Our keys for the receive path, taken from the connection's credentials by the driver.

use wa_protocol::binary::Jid;
use wa_protocol::signal::keys::{LocalIdentity, SignedPreKey};

/// Our keys for decrypting: identity, signed prekey, own device JIDs.
pub(crate) struct Keys {
    pub(crate) local: LocalIdentity,
    pub(crate) signed: SignedPreKey,
    pub(crate) own_pn: Option<Jid>,
    pub(crate) own_lid: Option<Jid>,
}
