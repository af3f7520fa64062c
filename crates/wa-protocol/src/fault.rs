//! Who is at fault for an error (a leaf: every layer's classifier names it).

/// Who caused an error: decides whether to retry, close or report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The remote side sent something invalid (malformed, unauthenticated, untrusted), or did not
    /// answer.
    Peer,
    /// The caller asked for something impossible (oversized frame, unencodable node): a local bug.
    Caller,
}
