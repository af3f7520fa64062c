//! Local Signal addresses of device JIDs (`signal.md` §8, whatsmeow `SignalAddressUser`):
//! `user` for `s.whatsapp.net`, `user_1` for `@lid`, `user_128` for `@hosted`, `user_129` for
//! `@hosted.lid`, then `:device`. Not on the wire; the key of sessions and identities in the
//! store.

use wa_protocol::binary::{Jid, Server};

/// The store key of a device's Signal session and identity.
pub(crate) fn signal_address(device: &Jid) -> String {
    let domain = match device.server() {
        Server::Lid => "_1",
        Server::Hosted => "_128",
        Server::HostedLid => "_129",
        _ => "",
    };
    format!("{}{domain}:{}", device.user_part(), device.device_id())
}

/// The user JID (no device) of a device JID.
pub(crate) fn user_of(jid: &Jid) -> Jid {
    Jid::user(jid.user_part().to_owned(), jid.server().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_user_domain_scheme() {
        let pn = Jid::device("15550002222", 7, Server::WhatsApp);
        assert_eq!(signal_address(&pn), "15550002222:7");
        assert_eq!(signal_address(&Jid::lid("987")), "987_1:0");
        assert_eq!(user_of(&pn), Jid::user("15550002222", Server::WhatsApp));
    }
}
