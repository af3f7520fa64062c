//! Go's `time.Time` as `encoding/json` writes it (RFC 3339, CONTRACTS §A.7: "Times are RFC3339,
//! and an unset time is `0001-01-01T00:00:00Z`"), for the whatsmeow-shaped bodies (GroupInfo,
//! webhook events). UTC only: the gateway's clock is UTC.

/// Go's zero `time.Time`.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// `unix_secs` as `YYYY-MM-DDTHH:MM:SSZ`; `None` or `0` (never set) as [`ZERO`].
pub fn rfc3339(unix_secs: Option<u64>) -> String {
    match unix_secs {
        None | Some(0) => ZERO.to_owned(),
        Some(s) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
        )
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(None), ZERO);
        assert_eq!(rfc3339(Some(0)), ZERO);
        assert_eq!(rfc3339(Some(1)), "1970-01-01T00:00:01Z");
        // 2024-02-29 (a leap day) 12:34:56 UTC.
        assert_eq!(rfc3339(Some(1_709_210_096)), "2024-02-29T12:34:56Z");
        assert_eq!(rfc3339(Some(1_717_776_749)), "2024-06-07T16:12:29Z");
        assert_eq!(rfc3339(Some(4_102_444_800)), "2100-01-01T00:00:00Z");
    }
}
