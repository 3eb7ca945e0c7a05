//! Reading typed settings from their text in `mlc:connect/config`, with the contract's
//! `invalid-input` (subject `configuration`, the key as the field) when a value does not parse.
//! Pure functions over the raw value, so a connector's own configuration seam (and its native
//! tests) can use them whatever the value came from.

use std::fmt::Display;
use std::str::FromStr;

use crate::{Error, Result};

fn bad(key: &str, message: String) -> Error {
    Error::invalid_input("configuration", key, message)
}

/// The value trimmed; none when absent or blank (a blank setting means "the default").
pub fn present(raw: Option<String>) -> Option<String> {
    raw.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A number, or `default` when the setting is absent or blank.
pub fn number<T: FromStr>(key: &str, raw: Option<String>, default: T) -> Result<T> {
    match present(raw) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| bad(key, format!("`{v}` is not a number"))),
    }
}

/// A number within `min..=max`, or `default` when absent or blank.
pub fn number_in<T: FromStr + PartialOrd + Display + Copy>(
    key: &str,
    raw: Option<String>,
    default: T,
    min: T,
    max: T,
) -> Result<T> {
    match present(raw) {
        None => Ok(default),
        Some(v) => match v.parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(bad(
                key,
                format!("`{v}` is not a number from {min} to {max}"),
            )),
        },
    }
}

/// A boolean (`true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`, any case), or `default`.
pub fn boolean(key: &str, raw: Option<String>, default: bool) -> Result<bool> {
    match present(raw).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "true" | "yes" | "on" | "1") => Ok(true),
        Some(v) if matches!(v.as_str(), "false" | "no" | "off" | "0") => Ok(false),
        Some(v) => Err(bad(key, format!("`{v}` is not true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> (String, String) {
        match e {
            Error::InvalidInput(f) => (f.field, f.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_settings_default_parse_and_name_the_key() {
        assert_eq!(number("n", None, 5u32).unwrap(), 5);
        assert_eq!(number("n", Some("  ".into()), 5u32).unwrap(), 5);
        assert_eq!(number("n", Some(" 7 ".into()), 5u32).unwrap(), 7);
        assert_eq!(
            field(number::<u32>("page-size", Some("x".into()), 5).unwrap_err()),
            ("page-size".into(), "`x` is not a number".into())
        );
        assert_eq!(number_in("n", Some("9".into()), 1u32, 1, 10).unwrap(), 9);
        assert_eq!(
            field(number_in("n", Some("11".into()), 1u32, 1, 10).unwrap_err()).1,
            "`11` is not a number from 1 to 10"
        );
        assert!(boolean("b", Some("Yes".into()), false).unwrap());
        assert!(!boolean("b", Some("off".into()), true).unwrap());
        assert!(boolean("b", None, true).unwrap());
        assert_eq!(
            field(boolean("b", Some("maybe".into()), true).unwrap_err()).1,
            "`maybe` is not true or false"
        );
    }
}
