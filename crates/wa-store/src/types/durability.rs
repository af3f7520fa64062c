//! [`Durability`]: how durable a write must be when the call returns.

/// How durable a write must be when the call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Applied and visible; on disk within the background flush interval
    /// ([`crate::StoreConfig::flush_every_ms`]) or at the next durable write.
    #[default]
    Buffered,
    /// On disk (fsync'd) before the call returns. Concurrent durable writers share one flush
    /// (group commit).
    Durable,
}
