//! Our keys for the receive path, taken from the connection's credentials by the driver, and
//! the prekey lookup both receive paths (1:1 and group) decrypt a `pkmsg` with.

use wa_protocol::binary::Jid;
use wa_protocol::message::receive::PreKeyLookup;
use wa_protocol::signal::keys::{LocalIdentity, PreKey, SignedPreKey};
use wa_store::{AccountId, Store};

/// Our keys for decrypting: identity, signed prekey, own device JIDs.
pub(crate) struct Keys {
    pub(crate) local: LocalIdentity,
    pub(crate) signed: SignedPreKey,
    pub(crate) own_pn: Option<Jid>,
    pub(crate) own_lid: Option<Jid>,
}

impl Keys {
    /// Whether `device` is one of our own account's devices (PN or LID).
    pub(crate) fn is_own(&self, device: &Jid) -> bool {
        [&self.own_pn, &self.own_lid]
            .into_iter()
            .flatten()
            .any(|own| own.user_part() == device.user_part() && own.server() == device.server())
    }
}

/// One-time prekeys read from the store by id; the signed prekey from the device record.
pub(crate) struct StorePreKeys<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) account: AccountId,
    pub(crate) signed: &'a SignedPreKey,
}

impl PreKeyLookup for StorePreKeys<'_> {
    fn signed_pre_key(&self, id: u32) -> Option<SignedPreKey> {
        (self.signed.id == id).then(|| self.signed.clone())
    }

    fn one_time_pre_key(&self, id: u32) -> Option<PreKey> {
        match self.store.load_prekey(&self.account, id) {
            Ok(k) => k.map(|k| PreKey {
                id: k.id,
                key_pair: k.key_pair,
            }),
            Err(error) => {
                tracing::warn!(account = %self.account, id, %error, "cannot read a prekey");
                None
            }
        }
    }
}
