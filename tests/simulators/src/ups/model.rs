//! UPS business rules of the simulator: 1Z tracking numbers, prices, transit times, the
//! tracking life of a shipment and street-level address validation.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::seed::US_DIRECTORY;
use crate::util::fnv;

/// UPS check digit over the 15 characters after `1Z` (letters map to (ord - 'A' + 2) mod 10).
pub(crate) fn check_digit(body15: &str) -> char {
    let mut total = 0u32;
    for (i, c) in body15.chars().enumerate() {
        let v = if c.is_ascii_digit() {
            c as u32 - '0' as u32
        } else if c.is_ascii_uppercase() {
            (c as u32 - 'A' as u32 + 2) % 10
        } else {
            0
        };
        total += if i % 2 == 1 { v * 2 } else { v };
    }
    let d = (10 - total % 10) % 10;
    char::from_digit(d, 10).unwrap_or('0')
}

/// `1Z` + account (6) + service (2) + package serial (7) + check digit = 18 characters.
pub(crate) fn tracking_number(account: &str, service: &str, serial: u32) -> String {
    let svc: String = format!("{service:0>2}").chars().take(2).collect();
    let body = format!("{account}{svc}{:07}", serial % 10_000_000);
    format!("1Z{body}{}", check_digit(&body))
}

/// True if `tn` is a well-formed 1Z number with a correct check digit.
pub(crate) fn valid_1z(tn: &str) -> bool {
    let b = tn.as_bytes();
    tn.len() == 18
        && tn.starts_with("1Z")
        && b.iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && check_digit(&tn[2..17]) == char::from(b[17])
}

pub(crate) fn service_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "UPS Next Day Air",
        "02" => "UPS 2nd Day Air",
        "03" => "UPS Ground",
        "07" => "UPS Worldwide Express",
        "08" => "UPS Worldwide Expedited",
        "11" => "UPS Standard",
        "12" => "UPS 3 Day Select",
        "13" => "UPS Next Day Air Saver",
        "14" => "UPS Next Day Air Early",
        "54" => "UPS Worldwide Express Plus",
        "59" => "UPS 2nd Day Air A.M.",
        "65" => "UPS Worldwide Saver",
        _ => return None,
    })
}

const EUROPE: &[&str] = &[
    "DE", "GB", "FR", "NL", "BE", "IT", "ES", "AT", "DK", "SE", "PL", "IE", "LU", "CH",
];

/// Services UPS offers between two countries.
pub(crate) fn lane_services(from: &str, to: &str) -> &'static [&'static str] {
    match (from, to) {
        ("US", "US") | ("PR", "PR") | ("US", "PR") | ("PR", "US") => {
            &["01", "02", "03", "12", "13", "14", "59"]
        }
        ("US", "CA") | ("CA", "US") => &["11", "07", "08", "65", "54"],
        (a, b) if a == b => &["11", "07", "65"],
        (a, b) if EUROPE.contains(&a) && EUROPE.contains(&b) => &["11", "07", "65", "54"],
        _ => &["07", "08", "65", "54"],
    }
}

fn zone_factor(from_zip: &str, to_zip: &str) -> f64 {
    let key = format!(
        "{}|{}",
        from_zip.chars().take(3).collect::<String>(),
        to_zip.chars().take(3).collect::<String>()
    );
    1.0 + (fnv(key.as_bytes()) % 9) as f64 / 10.0
}

/// Published transportation charge for `service` and `billable_lbs`.
pub(crate) fn transport_charge(
    service: &str,
    from_zip: &str,
    to_zip: &str,
    billable_lbs: f64,
) -> f64 {
    let z = zone_factor(from_zip, to_zip);
    let ground = 9.25 + 0.85 * billable_lbs * z;
    let standard = 17.50 + 1.6 * billable_lbs * z;
    let v = match service {
        "03" => ground,
        "12" => ground * 1.55,
        "02" => ground * 2.2,
        "59" => ground * 2.5,
        "13" => ground * 2.9,
        "01" => ground * 3.3,
        "14" => ground * 4.4,
        "11" => standard,
        "08" => standard * 2.0,
        "65" => standard * 2.5,
        "07" => standard * 2.8,
        "54" => standard * 3.9,
        _ => standard * 3.0,
    };
    (v * 100.0).round() / 100.0
}

/// Negotiated (account) rate for a published total.
pub(crate) fn negotiated(total: f64) -> f64 {
    (total * 0.74 * 100.0).round() / 100.0
}

pub(crate) fn currency_for(country: &str) -> &'static str {
    match country {
        "US" | "PR" => "USD",
        "CA" => "CAD",
        "GB" => "GBP",
        "CH" => "CHF",
        _ => "EUR",
    }
}

/// Transit days for a service on a lane (deterministic per lane).
pub(crate) fn transit_days(service: &str, from_zip: &str, to_zip: &str, same_country: bool) -> i64 {
    let h = (fnv(format!("{from_zip}>{to_zip}").as_bytes()) % 3) as i64;
    match service {
        "01" | "13" | "14" => 1,
        "02" | "59" => 2,
        "12" => 3,
        "03" => 1 + h + if same_country { 0 } else { 1 },
        "11" => {
            if same_country {
                1
            } else {
                2 + h
            }
        }
        "07" | "54" => {
            if same_country {
                1
            } else {
                2
            }
        }
        "65" => 2,
        "08" => 4,
        _ => 3,
    }
}

/// UTC offset (hours) used for local times at a location (no daylight saving).
pub(crate) fn utc_offset(country: &str, state: &str) -> i32 {
    match country {
        "US" => match state {
            "CA" | "WA" | "OR" | "NV" => -8,
            "CO" | "AZ" | "UT" | "NM" => -7,
            "TX" | "IL" | "MN" | "MO" | "TN" => -6,
            _ => -5,
        },
        "CA" => match state {
            "BC" => -8,
            _ => -5,
        },
        "GB" | "IE" | "PT" => 0,
        _ => 1,
    }
}

/// A place where a scan happens.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Place {
    pub(crate) city: String,
    pub(crate) state: String,
    pub(crate) postal: String,
    pub(crate) country: String,
}

/// One tracking event (applies to every package of the shipment).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TrackEvent {
    pub(crate) at: DateTime<Utc>,
    /// Track Alert activity type: M, I, X, D, MV.
    pub(crate) kind: &'static str,
    pub(crate) code: &'static str,
    /// Track Alert description.
    pub(crate) desc: &'static str,
    /// Track API description.
    pub(crate) detail: &'static str,
    pub(crate) status_code: &'static str,
    pub(crate) place: Place,
}

impl TrackEvent {
    pub(crate) fn offset_hours(&self) -> i32 {
        utc_offset(&self.place.country, &self.place.state)
    }
    pub(crate) fn local(&self) -> DateTime<Utc> {
        self.at + Duration::hours(i64::from(self.offset_hours()))
    }
}

pub(crate) fn ev(at: DateTime<Utc>, code: &str, place: &Place) -> TrackEvent {
    let (kind, code, desc, detail, status_code) = match code {
        "MP" => (
            "M",
            "MP",
            "Shipment Ready for UPS",
            "Shipper created a label, UPS has not received the package yet.",
            "003",
        ),
        "OR" => ("I", "OR", "On the Way", "Origin Scan", "005"),
        "DP" => ("I", "DP", "On the Way", "Departed from Facility", "005"),
        "AR" => ("I", "AR", "On the Way", "Arrived at Facility", "005"),
        "OT" => (
            "I",
            "OT",
            "Out for Delivery",
            "Out For Delivery Today",
            "021",
        ),
        "X1" => (
            "X",
            "X1",
            "Delivery Attempted",
            "The receiver was not available for delivery. We'll make a second attempt the next business day.",
            "048",
        ),
        "MV" => (
            "MV",
            "MV",
            "Manifest Void",
            "Voided Information Received",
            "003",
        ),
        _ => ("D", "FS", "Delivered", "Delivered", "011"),
    };
    TrackEvent {
        at,
        kind,
        code,
        desc,
        detail,
        status_code,
        place: place.clone(),
    }
}

fn at_local(day: NaiveDate, h: u32, m: u32, offset: i32) -> DateTime<Utc> {
    let naive = day.and_hms_opt(h, m, 0).unwrap_or_default();
    Utc.from_utc_datetime(&naive) - Duration::hours(i64::from(offset))
}

/// The whole future tracking life of a shipment created at `t0`, plus its scheduled
/// delivery date. One shipment in eight (by tracking number) has a failed first delivery.
pub(crate) fn schedule(
    seed: u64,
    tn: &str,
    service: &str,
    t0: DateTime<Utc>,
    origin: &Place,
    dest: &Place,
) -> (Vec<TrackEvent>, NaiveDate) {
    let mut rng = StdRng::seed_from_u64(seed ^ fnv(tn.as_bytes()));
    let same = origin.country == dest.country;
    let days = transit_days(service, &origin.postal, &dest.postal, same);
    let mut day = (t0 + Duration::days(days)).date_naive();
    // No Sunday deliveries.
    if day.weekday() == chrono::Weekday::Sun {
        day += Duration::days(1);
    }
    let scheduled = day;
    let off = utc_offset(&dest.country, &dest.state);
    let gateway = match (same, origin.country.as_str()) {
        (true, _) => None,
        (false, "US") => Some(Place {
            city: "Louisville".into(),
            state: "KY".into(),
            postal: String::new(),
            country: "US".into(),
        }),
        (false, _) => Some(Place {
            city: "Koeln".into(),
            state: String::new(),
            postal: String::new(),
            country: "DE".into(),
        }),
    };
    let mut dest_hub = dest.clone();
    dest_hub.postal = String::new();
    let mut out = vec![ev(t0, "MP", origin)];
    let pickup = t0 + Duration::minutes(rng.random_range(240..360));
    out.push(ev(pickup, "OR", origin));
    out.push(ev(
        pickup + Duration::minutes(rng.random_range(120..240)),
        "DP",
        origin,
    ));
    if let Some(g) = &gateway {
        out.push(ev(
            pickup + Duration::minutes(rng.random_range(600..900)),
            "AR",
            g,
        ));
        out.push(ev(
            pickup + Duration::minutes(rng.random_range(960..1200)),
            "DP",
            g,
        ));
    }
    let ot = at_local(day, 8, rng.random_range(0..50), off);
    out.push(ev(
        ot - Duration::minutes(rng.random_range(90..240)),
        "AR",
        &dest_hub,
    ));
    out.push(ev(ot, "OT", &dest_hub));
    let exception = fnv(format!("{seed}:{tn}").as_bytes()) % 8 == 5;
    if exception {
        out.push(ev(
            at_local(day, 13, rng.random_range(0..59), off),
            "X1",
            &dest_hub,
        ));
        let next = day + Duration::days(1);
        out.push(ev(
            at_local(next, 8, rng.random_range(0..50), off),
            "OT",
            &dest_hub,
        ));
        out.push(ev(
            at_local(next, 11, rng.random_range(0..59), off),
            "FS",
            dest,
        ));
    } else {
        out.push(ev(
            at_local(day, rng.random_range(10..16), rng.random_range(0..59), off),
            "FS",
            dest,
        ));
    }
    // Keep strictly increasing times whatever the arithmetic above produced.
    for i in 1..out.len() {
        if out[i].at <= out[i - 1].at {
            out[i].at = out[i - 1].at + Duration::minutes(7);
        }
    }
    (out, scheduled)
}

/// Result of street-level validation.
#[derive(Debug, PartialEq)]
pub(crate) enum Xav {
    Valid(Candidate),
    Ambiguous(Vec<Candidate>),
    NoCandidates,
}

/// A standardised address.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) lines: Vec<String>,
    pub(crate) city: String,
    pub(crate) state: String,
    pub(crate) zip: String,
    pub(crate) zip4: String,
    pub(crate) residential: bool,
}

/// Validates against the simulator's directory (see README.md): valid when (city, state) is
/// known, the ZIP belongs to it and the first line starts with a house number; ambiguous when
/// the city is known but the ZIP (or house number) is not right; no candidates otherwise.
pub(crate) fn validate_us(lines: &[String], city: &str, state: &str, zip: &str, max: usize) -> Xav {
    let city_u = city.trim().to_uppercase();
    let state_u = state.trim().to_uppercase();
    let zip5: String = zip.trim().chars().take(5).collect();
    let lines_u: Vec<String> = lines
        .iter()
        .map(|l| l.trim().to_uppercase())
        .filter(|l| !l.is_empty())
        .collect();
    let residential = lines_u
        .iter()
        .any(|l| l.contains("APT") || l.contains("UNIT"));
    let house_no = lines_u
        .first()
        .is_some_and(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()));
    let entry = US_DIRECTORY
        .iter()
        .find(|(c, s, _, _)| *c == city_u && *s == state_u)
        .or_else(|| {
            // A right ZIP with a slightly different city name is still found by ZIP.
            US_DIRECTORY.iter().find(|(_, s, zips, _)| {
                *s == state_u && zips.contains(&zip5.as_str()) && !city_u.is_empty()
            })
        });
    let Some((c, s, zips, ext)) = entry else {
        return Xav::NoCandidates;
    };
    let mk = |z: &str| Candidate {
        lines: lines_u.clone(),
        city: (*c).to_string(),
        state: (*s).to_string(),
        zip: z.to_string(),
        zip4: (*ext).to_string(),
        residential,
    };
    if zips.contains(&zip5.as_str()) && house_no && *c == city_u {
        return Xav::Valid(mk(&zip5));
    }
    Xav::Ambiguous(zips.iter().take(max.max(1)).map(|z| mk(z)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_known_number() {
        assert!(valid_1z("1Z999AA10123456784"));
        assert!(!valid_1z("1Z999AA10123456785"));
        let tn = tracking_number("9W1A47", "03", 42);
        assert_eq!(tn.len(), 18);
        assert!(valid_1z(&tn), "{tn}");
    }

    #[test]
    fn xav_rules() {
        let l = vec!["425 Hudson St".to_string()];
        assert!(matches!(
            validate_us(&l, "New York", "NY", "10014", 15),
            Xav::Valid(_)
        ));
        assert!(
            matches!(validate_us(&l, "New York", "NY", "10099", 15), Xav::Ambiguous(v) if v.len() == 3)
        );
        assert_eq!(
            validate_us(&l, "Chicgo", "IL", "60699", 15),
            Xav::NoCandidates
        );
    }
}
