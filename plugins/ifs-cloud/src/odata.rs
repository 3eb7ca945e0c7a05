//! OData v4 text: literals, key predicates, query strings, `@odata.nextLink` checks and
//! `Edm.DateTimeOffset` conversion. Pure functions, tested natively.

use mlc_plugin_sdk::http::encode_component;
use mlc_plugin_sdk::{Error, Result};

use crate::config::{KeyType, Settings};

/// `'O''Brien'`: an OData string literal (single quotes doubled).
pub fn string_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `IfsApp.ShipmentHandling.ShipmentState'Completed'`: an enumeration literal.
pub fn enum_lit(ty: &str, member: &str) -> String {
    format!("{ty}{}", string_lit(member))
}

/// A key value as a literal of the configured type. A numeric key must be an integer, so a
/// caller-supplied id can never smuggle query text into a URL.
pub fn key_lit(kind: KeyType, value: &str, subject: &str, field: &str) -> Result<String> {
    match kind {
        KeyType::Number => value
            .trim()
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| {
                Error::invalid_input(subject, field, format!("`{value}` is not a numeric key"))
            }),
        KeyType::String => Ok(string_lit(value)),
    }
}

/// The URL of one entity: `…/ShipmentSet(ShipmentId=10001)`. Literal text in the key predicate
/// is percent-encoded (quotes and `=` stay readable, as IFS clients send them).
pub fn entity_url(collection_url: &str, key: &str, literal: &str) -> String {
    format!("{collection_url}({key}={})", encode_path_literal(literal))
}

/// Encodes a key literal for a path segment; `'` `=` `,` `(` `)` pass through.
fn encode_path_literal(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        match ch {
            '\'' | '=' | ',' | '(' | ')' => out.push(ch),
            c => out.push_str(&encode_component(c.encode_utf8(&mut [0u8; 4]))),
        }
    }
    out
}

/// A query string from system query options, each value percent-encoded: `?$filter=…&$top=10`.
pub fn query(options: &[(&str, String)]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = options
        .iter()
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// `a and b and c`, each clause parenthesised.
pub fn and_all(clauses: &[String]) -> Option<String> {
    match clauses {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(
            many.iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    }
}

/// `F eq v1 or F eq v2 …` for literals already rendered.
pub fn any_of(field: &str, literals: &[String]) -> String {
    literals
        .iter()
        .map(|l| format!("{field} eq {l}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Resolves and checks an `@odata.nextLink` (absolute, or relative to the service root): it
/// must stay on the configured origin and base path, or the poll would follow the server to a
/// host it was never configured for.
pub fn checked_next_link(settings: &Settings, service_url: &str, link: &str) -> Result<String> {
    let absolute = if link.starts_with("http://") || link.starts_with("https://") {
        link.to_owned()
    } else if link.starts_with('/') {
        format!("{}{link}", settings.origin)
    } else {
        format!("{service_url}/{link}")
    };
    let prefix = format!("{}{}/", settings.origin, settings.base_path);
    let lower = absolute.to_ascii_lowercase();
    if !lower.starts_with(&prefix.to_ascii_lowercase())
        || absolute.contains(['\r', '\n', ' ', '#'])
        || absolute.contains("/../")
    {
        return Err(Error::internal(format!(
            "@odata.nextLink `{link}` leaves the configured service `{prefix}`"
        )));
    }
    Ok(absolute)
}

use mlc_plugin_sdk::time::{DAY_MS, civil_from_days, days_from_civil};

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Milliseconds since the epoch of an OData `Edm.DateTimeOffset` (`2026-03-01T10:00:00Z`,
/// fractions and `±hh:mm` offsets allowed; seconds optional) or `Edm.Date` (`2026-03-01`).
/// A value without a zone is taken as UTC. Fractions finer than a millisecond are truncated.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = match s.split_once('T') {
        Some((d, r)) => (d, Some(r)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let (y, mo, d) = (
        dp.next().and_then(digits)?,
        dp.next().and_then(digits)?,
        dp.next().and_then(digits)?,
    );
    if dp.next().is_some() || date.len() != 10 || !(1..=12).contains(&mo) || !(1..=31).contains(&d)
    {
        return None;
    }
    let days = days_from_civil(y, u32::try_from(mo).ok()?, u32::try_from(d).ok()?);
    let Some(rest) = rest else {
        return Some(days * DAY_MS);
    };
    let (time, offset_min) =
        if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
            (t, 0)
        } else if rest.len() > 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
            let (t, z) = rest.split_at(rest.len() - 6);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (h, m) = z[1..].split_once(':')?;
            let (h, m) = (digits(h)?, digits(m)?);
            if h > 23 || m > 59 {
                return None;
            }
            (t, sign * (h * 60 + m))
        } else {
            (rest, 0)
        };
    let (hms, frac) = match time.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (time, None),
    };
    let mut tp = hms.split(':');
    let h = tp.next().and_then(digits)?;
    let mi = tp.next().and_then(digits)?;
    let sec = match tp.next() {
        Some(x) => digits(x)?,
        None => 0,
    };
    if tp.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let ms = match frac {
        None => 0,
        Some(f) => {
            digits(f)?;
            let f3: String = f.chars().chain("000".chars()).take(3).collect();
            digits(&f3)?
        }
    };
    Some(days * DAY_MS + ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + ms)
}

/// `2026-03-01T10:00:00Z` (with `.mmm` when the milliseconds are not zero).
pub fn format_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    if milli == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
    }
}

/// `2026-03-01`.
pub fn format_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Whether a server-sent timestamp may be put into a `$filter` as it is: it parses and holds
/// only characters of the literal grammar.
pub fn is_timestamp_literal(s: &str) -> bool {
    parse_timestamp(s).is_some()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 'Z' | '.' | '+'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn escapes_literals() {
        assert_eq!(string_lit("O'Brien"), "'O''Brien'");
        assert_eq!(
            enum_lit("IfsApp.ShipmentHandling.ShipmentState", "Completed"),
            "IfsApp.ShipmentHandling.ShipmentState'Completed'"
        );
        assert_eq!(
            key_lit(KeyType::Number, " 10001 ", "s", "f").unwrap(),
            "10001"
        );
        assert!(key_lit(KeyType::Number, "1) or (1", "s", "f").is_err());
        assert_eq!(key_lit(KeyType::String, "C'1", "s", "f").unwrap(), "'C''1'");
        assert_eq!(
            entity_url("https://h/x.svc/CustomerOrderSet", "OrderNo", "'C 1/2'"),
            "https://h/x.svc/CustomerOrderSet(OrderNo='C%201%2F2')"
        );
    }

    #[test]
    fn builds_query_strings() {
        let q = query(&[
            (
                "$filter",
                "Objstate eq IfsApp.S.State'Completed' and T ge 2026-01-01T00:00:00+01:00".into(),
            ),
            ("$top", "5".into()),
        ]);
        assert_eq!(
            q,
            "?$filter=Objstate%20eq%20IfsApp.S.State%27Completed%27%20and%20T%20ge%202026-01-01T00%3A00%3A00%2B01%3A00&$top=5"
        );
        assert_eq!(
            and_all(&["a eq 1".into(), "b or c".into()]).unwrap(),
            "(a eq 1) and (b or c)"
        );
        assert_eq!(
            any_of("Contract", &["'A'".into(), "'B'".into()]),
            "Contract eq 'A' or Contract eq 'B'"
        );
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_timestamp("2026-03-01T10:00:00Z"),
            Some(1_772_359_200_000)
        );
        assert_eq!(
            parse_timestamp("2026-03-01T11:00:00+01:00"),
            Some(1_772_359_200_000)
        );
        assert_eq!(
            parse_timestamp("2026-03-01T10:00Z"),
            Some(1_772_359_200_000)
        );
        assert_eq!(
            parse_timestamp("2026-03-01T10:00:00.1234567Z"),
            Some(1_772_359_200_123)
        );
        assert_eq!(
            parse_timestamp("2026-03-01T10:00:00"),
            Some(1_772_359_200_000)
        );
        assert_eq!(parse_timestamp("2026-03-01"), Some(1_772_323_200_000));
        assert_eq!(
            parse_timestamp("2024-02-29T23:59:59-05:30"),
            parse_timestamp("2024-03-01T05:29:59Z")
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-03-01T25:00:00Z",
            "yesterday",
            "2026-3-1",
            "2026-03-01T10:00:00+1",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(format_timestamp(1_772_359_200_000), "2026-03-01T10:00:00Z");
        assert_eq!(
            format_timestamp(1_772_359_200_123),
            "2026-03-01T10:00:00.123Z"
        );
        assert_eq!(format_timestamp(-1000), "1969-12-31T23:59:59Z");
        assert_eq!(format_date(1_772_359_200_000), "2026-03-01");
        for ms in [0, 951_782_400_000, 1_709_164_800_000, 4_102_444_799_999] {
            assert_eq!(parse_timestamp(&format_timestamp(ms)), Some(ms));
        }
        assert!(is_timestamp_literal("2026-03-01T10:00:00+01:00"));
        assert!(!is_timestamp_literal("2026-03-01T10:00:00Z or 1 eq 1"));
    }

    #[test]
    fn next_links_stay_on_the_service() {
        let map: BTreeMap<&str, &str> = [("host", "http://127.0.0.1:9000")].into_iter().collect();
        let s = Settings::from_lookup(&|k| map.get(k).map(|v| (*v).to_owned())).unwrap();
        let svc = s.service_url("ShipmentHandling");
        let ok = "http://127.0.0.1:9000/main/ifsapplications/projection/v1/ShipmentHandling.svc/ShipmentSet?$skiptoken=50";
        assert_eq!(checked_next_link(&s, &svc, ok).unwrap(), ok);
        assert_eq!(
            checked_next_link(&s, &svc, "ShipmentSet?$skiptoken=50").unwrap(),
            ok
        );
        assert_eq!(
            checked_next_link(
                &s,
                &svc,
                "/main/ifsapplications/projection/v1/ShipmentHandling.svc/ShipmentSet?$skiptoken=50"
            )
            .unwrap(),
            ok
        );
        assert!(
            checked_next_link(
                &s,
                &svc,
                "http://evil.example/main/ifsapplications/projection/v1/X"
            )
            .is_err()
        );
        assert!(
            checked_next_link(
                &s,
                &svc,
                "http://127.0.0.1:9000.evil/main/ifsapplications/projection/v1/X"
            )
            .is_err()
        );
        assert!(checked_next_link(&s, &svc, "http://127.0.0.1:9000/other").is_err());
    }
}
