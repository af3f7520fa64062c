//! Go's `time.Time` as `encoding/json` writes it (RFC 3339, CONTRACTS §A.7: "Times are RFC3339,
//! and an unset time is `0001-01-01T00:00:00Z`"), for the whatsmeow-shaped bodies (GroupInfo,
//! webhook events). UTC only: the gateway's clock is UTC.

/// Go's zero `time.Time`.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// `unix_secs` as `YYYY-MM-DDTHH:MM:SSZ`; `None` or `0` (never set) as [`ZERO`].
pub fn rfc3339(unix_secs: Option<u64>) -> String {
    let secs = match unix_secs {
        None | Some(0) => return ZERO.to_owned(),
        Some(s) => s,
    };
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to dates on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
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
