//! `--since` / `--until` values: a duration back from now (`30m`, `24h`,
//! `7d`, `2w`), a date (`2026-03-01`, midnight UTC) or an RFC 3339 time.
//! Owns only the parsing; it never reads the clock itself (`now` is given).

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// What [`parse_when`] accepts, for error messages and help text.
pub const WHEN_FORMS: &str = "a duration back from now (30m, 24h, 7d, 2w: a number followed by s, m, h, d or w), a date (2026-03-01, midnight UTC) or an RFC 3339 time (2026-03-01T12:00:00Z)";

/// Parses a `--since`/`--until` value relative to `now`.
pub fn parse_when(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let v = value.trim();
    let bad = || format!("invalid time {value:?}: expected {WHEN_FORMS}");
    if v.is_empty() {
        return Err(bad());
    }
    if let Some(d) = parse_duration(v) {
        let d = d.ok_or_else(|| format!("invalid time {value:?}: duration too large"))?;
        return now
            .checked_sub_signed(d)
            .ok_or_else(|| format!("invalid time {value:?}: duration too large"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        if v.len() == 10 {
            return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
        }
    }
    Err(bad())
}

/// `Some(None)`: a duration that overflows; `None`: not a duration at all.
fn parse_duration(v: &str) -> Option<Option<Duration>> {
    let unit = v.chars().last()?;
    let digits = &v[..v.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds_per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let n: i64 = match digits.parse() {
        Ok(n) => n,
        Err(_) => return Some(None),
    };
    Some(
        n.checked_mul(seconds_per_unit)
            .and_then(Duration::try_seconds),
    )
}
