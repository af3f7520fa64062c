//! Tag byte values (binary-node.md §2).

/// Empty list / null / empty JID user.
pub(crate) const LIST_EMPTY: u8 = 0x00;
/// First unassigned tag byte.
pub(crate) const UNASSIGNED_FIRST: u8 = 0xF0;
/// Last unassigned tag byte.
pub(crate) const UNASSIGNED_LAST: u8 = 0xF4;
/// `user, u16 device, u16 integrator, server`.
pub(crate) const INTEROP_JID: u8 = 0xF5;
/// `user, u16 device, server`.
pub(crate) const FB_JID: u8 = 0xF6;
/// `u8 domain type, u8 device, user`.
pub(crate) const AD_JID: u8 = 0xF7;
/// List with a u8 size.
pub(crate) const LIST_8: u8 = 0xF8;
/// List with a u16 size.
pub(crate) const LIST_16: u8 = 0xF9;
/// `user (or LIST_EMPTY), server`.
pub(crate) const JID_PAIR: u8 = 0xFA;
/// Packed uppercase hex string.
pub(crate) const HEX_8: u8 = 0xFB;
/// u8 length + bytes.
pub(crate) const BINARY_8: u8 = 0xFC;
/// 20-bit length (3 bytes) + bytes.
pub(crate) const BINARY_20: u8 = 0xFD;
/// u32 length + bytes.
pub(crate) const BINARY_32: u8 = 0xFE;
/// Packed nibble string (`0-9 - .`).
pub(crate) const NIBBLE_8: u8 = 0xFF;

/// Longest string that is packed (nibble or hex); longer strings are written raw.
pub(crate) const PACKED_MAX: usize = 127;
