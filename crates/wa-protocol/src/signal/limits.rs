//! The Signal limits every implementation we follow agrees on (a leaf module).

/// Most messages a receiving chain may skip ahead in one go (a larger jump is refused).
pub const MAX_FORWARD_JUMP: u32 = 2000;
/// Most skipped-message keys kept per receiving chain (oldest dropped).
pub const MAX_SKIPPED_KEYS: usize = 2000;
/// Most receiving chains kept per session state (oldest dropped).
pub const MAX_RECEIVER_CHAINS: usize = 5;
/// Most archived session states kept per record (oldest dropped).
pub const MAX_ARCHIVED_STATES: usize = 40;
/// Most sender-key states kept per (group, sender) record (oldest dropped).
pub const MAX_SENDER_KEY_STATES: usize = 5;
