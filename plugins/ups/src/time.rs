//! UPS dates and times to contract timestamps (milliseconds since the epoch, UTC).
//!
//! UPS writes dates as `YYYYMMDD` and times as `HHMMSS` (sometimes with the leading zero lost:
//! Tracking's `gmtTime` example is `"74700"`). Local times carry no zone; the offset comes
//! separately as `"-05:00"` (Tracking) or `"-04.00"` (Track Alert).

#[cfg(test)]
use mlc_plugin_sdk::time::civil_from_days;
pub(crate) use mlc_plugin_sdk::time::{DAY_MS, days_from_civil};

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since the epoch of a `YYYYMMDD` date (also accepts `YYYY-MM-DD`).
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let compact: String = s.trim().chars().filter(|c| *c != '-').collect();
    if compact.len() != 8 {
        return None;
    }
    let year = i64::from(digits(&compact[0..4])?);
    let month = digits(&compact[4..6])?;
    let day = digits(&compact[6..8])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Seconds into the day of an `HHMMSS` time; shorter values are left-padded with zeros
/// (`"74700"` is 07:47:00), `HHMM` is not guessed. Empty is midnight's absence: `None`.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    let t: String = s.trim().chars().filter(|c| *c != ':').collect();
    if t.is_empty() || t.len() > 6 {
        return None;
    }
    let padded = format!("{t:0>6}");
    let h = i64::from(digits(&padded[0..2])?);
    let m = i64::from(digits(&padded[2..4])?);
    let sec = i64::from(digits(&padded[4..6])?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

/// Seconds east of UTC of an offset written `-05:00`, `-04.00`, `-0500`, `+1` or `Z`.
pub(crate) fn parse_offset(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let (h, m) = match rest.split_once([':', '.']) {
        Some((h, m)) => (digits(h)?, digits(m)?),
        None if rest.len() == 4 => (digits(&rest[0..2])?, digits(&rest[2..4])?),
        None => (digits(rest)?, 0),
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (i64::from(h) * 3600 + i64::from(m) * 60))
}

/// A UTC timestamp from a local date, an optional local time and the local offset.
pub(crate) fn local_to_utc_ms(date: &str, time: &str, offset_secs: i64) -> Option<i64> {
    let days = parse_date(date)?;
    let secs = if time.trim().is_empty() {
        0
    } else {
        parse_time(time)?
    };
    Some((days * 86_400 + secs - offset_secs) * 1000)
}

/// A UTC timestamp from a UTC date and time.
pub(crate) fn utc_ms(date: &str, time: &str) -> Option<i64> {
    local_to_utc_ms(date, time, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 4, 23), 19_836);
        assert_eq!(civil_from_days(19_836), (2024, 4, 23));
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn parses_ups_dates_times_and_offsets() {
        assert_eq!(parse_date("20240423"), Some(19_836));
        assert_eq!(parse_date("2024-04-23"), Some(19_836));
        assert_eq!(parse_date("20240230"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_time("095004"), Some(9 * 3600 + 50 * 60 + 4));
        assert_eq!(parse_time("74700"), Some(7 * 3600 + 47 * 60));
        assert_eq!(parse_time("2500"), Some(25 * 60));
        assert_eq!(parse_time("246000"), None);
        assert_eq!(parse_offset("-04.00"), Some(-4 * 3600));
        assert_eq!(parse_offset("-05:00"), Some(-5 * 3600));
        assert_eq!(parse_offset("+05:30"), Some(5 * 3600 + 1800));
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset(""), None);
    }

    #[test]
    fn local_time_with_offset_is_the_same_instant_as_gmt() {
        // Track Alert example: local 2024-04-23 09:50:04 at -04.00 is 13:50:04 GMT.
        let local = local_to_utc_ms("20240423", "095004", parse_offset("-04.00").unwrap()).unwrap();
        let gmt = utc_ms("20240423", "135004").unwrap();
        assert_eq!(local, gmt);
        assert_eq!(gmt, 1_713_880_204_000);
    }
}
