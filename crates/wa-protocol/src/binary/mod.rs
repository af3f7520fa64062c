//! placeholder until the codec lands
/// Dictionary version.
pub const DICT_VERSION: u8 = 3;
/// x
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct DecodeError;
/// x
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct EncodeError;
