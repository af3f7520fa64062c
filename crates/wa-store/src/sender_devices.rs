//! The sender-key memory of a group (`messaging.md` §9 step 4, the Baileys way): which devices
//! hold our current sender key. Kept as an opaque record in the `sender_keys` tree under the
//! group and the reserved sender [`SENDER_KEY_DEVICES`] (no Signal address contains `@`), so
//! logout and account deletion wipe it with the keys and no new tree is needed. The record is
//! the devices' JIDs as text, one per line, sorted.

use wa_protocol::binary::Jid;

use crate::error::{CorruptReason, Error, Result};

/// The reserved "sender" under which a group's sender-key memory is kept.
pub(crate) const SENDER_KEY_DEVICES: &str = "@devices";

/// The record of a device set.
pub(crate) fn encode(devices: &[Jid]) -> Vec<u8> {
    let mut names: Vec<String> = devices.iter().map(ToString::to_string).collect();
    names.sort();
    names.dedup();
    names.join("\n").into_bytes()
}

/// The device set of a record; a line that is not a JID is corruption.
pub(crate) fn decode(group: &str, record: &[u8]) -> Result<Vec<Jid>> {
    let corrupt = || {
        Error::corrupt(
            "sender_keys",
            group.as_bytes(),
            CorruptReason::BadField("sender key devices"),
        )
    };
    let text = std::str::from_utf8(record).map_err(|_| corrupt())?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().map_err(|_| corrupt()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wa_protocol::binary::Server;

    #[test]
    fn round_trip_sorted_and_unique() {
        let a = Jid::device("15550002222", 3, Server::WhatsApp);
        let b = Jid::device("98765", 0, Server::Lid);
        let record = encode(&[b.clone(), a.clone(), a.clone()]);
        assert_eq!(decode("g", &record).expect("decodes"), vec![a, b]);
        assert_eq!(decode("g", &encode(&[])).expect("empty"), Vec::<Jid>::new());
        assert!(decode("g", b"not a jid@@").is_err());
        assert!(decode("g", &[0xff]).is_err());
    }
}
