//! The Rust SDK for ml-connector plugins.
//!
//! A plugin is a WebAssembly component that implements one world of the `mlc:connect` WIT
//! package (`wit/` at the repository root):
//!
//! - `erp-connector` exports [`erp`](bindings::exports::erp): implement
//!   [`exports::erp::Guest`] and call [`export_erp_connector!`].
//! - `carrier-connector` exports `carrier`: implement [`exports::carrier::Guest`] and call
//!   [`export_carrier_connector!`].
//! - `sync-flow` exports `flow`: implement [`exports::flow::Guest`] and call
//!   [`export_sync_flow!`].
//!
//! This crate is the only place guest bindings are generated, so every plugin shares one set
//! of Rust types for the contract. It adds what a connector author would otherwise write again
//! and again: an HTTP client over `wasi:http` with JSON, timeouts and the mapping from HTTP
//! status codes to the contract's [`Error`] ([`http`]), typed access to configuration and
//! storage ([`host`]), and logging macros.
//!
//! Connectors never handle credentials: the host adds `Authorization` to requests for the
//! hosts bound to a connection. A connector reads its base URLs from [`host::config`].

pub mod bindings;
pub mod host;
pub mod http;
pub mod settings;
pub mod time;

pub use bindings::mlc::connect::types::{
    self, Address, AddressClassification, AddressValidation, AddressVerdict, CarrierShipment,
    CodePart, Dimensions, Error, FieldError, FreightCharge, FreightOutcome, Label, LabelFormat,
    LengthUnit, Money, Parcel, Rate, RateRequest, ReadyItem, ReadyPage, RefusedNumber, RetryInfo,
    Shipment, ShipmentRequest, SubscriptionResult, Timestamp, TrackingEvent, TrackingPoll,
    TrackingStatus, VendorError, Weight, WeightUnit,
};

/// The interfaces a plugin exports, to implement.
pub mod exports {
    pub use crate::bindings::carrier_world::exports::mlc::connect::carrier;
    pub use crate::bindings::exports::mlc::connect::erp;
    pub use crate::bindings::flow_world::exports::mlc::connect::flow;
}

pub use bindings::carrier_world::export_carrier_connector;
pub use bindings::export_erp_connector;
pub use bindings::flow_world::export_sync_flow;

/// The interfaces a flow imports (served by the host through the tenant's connectors).
pub mod flow_imports {
    pub use crate::bindings::flow_world::mlc::connect::{carrier, erp};
}

/// Shorthand for results of contract calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether retrying the same call later can succeed (see the WIT `error` docs).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited(_) | Error::Unavailable(_) | Error::Conflict(_)
        )
    }

    /// An `invalid-input` error about one field of one record.
    pub fn invalid_input(
        subject: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::InvalidInput(FieldError {
            subject: subject.into(),
            field: field.into(),
            message: message.into(),
        })
    }

    /// An `internal` error: an unexpected answer or a bug, described for operators.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
}

impl Error {
    /// A one-line description for logs and journals.
    pub fn describe(&self) -> String {
        match self {
            Error::InvalidInput(e) => {
                format!("invalid input: {} {}: {}", e.subject, e.field, e.message)
            }
            Error::NotFound(m) => format!("not found: {m}"),
            Error::Conflict(m) => format!("conflict: {m}"),
            Error::Unauthorized(m) => format!("unauthorized: {m}"),
            Error::Forbidden(m) => format!("forbidden: {m}"),
            Error::RateLimited(r) => format!("rate limited: {}", r.message),
            Error::Unavailable(r) => format!("unavailable: {}", r.message),
            Error::Rejected(v) => format!("rejected ({} {}): {}", v.status, v.code, v.message),
            Error::Denied(m) => format!("denied: {m}"),
            Error::Internal(m) => format!("internal: {m}"),
        }
    }
}

impl Weight {
    /// The weight in kilograms.
    pub fn kilograms(&self) -> f64 {
        match self.unit {
            WeightUnit::Kilograms => self.value,
            WeightUnit::Pounds => self.value * units::KG_PER_LB,
        }
    }

    /// The weight in pounds.
    pub fn pounds(&self) -> f64 {
        match self.unit {
            WeightUnit::Kilograms => self.value / units::KG_PER_LB,
            WeightUnit::Pounds => self.value,
        }
    }

    /// The same weight expressed in `unit`.
    pub fn to_unit(&self, unit: WeightUnit) -> Weight {
        let value = match unit {
            WeightUnit::Kilograms => self.kilograms(),
            WeightUnit::Pounds => self.pounds(),
        };
        Weight { value, unit }
    }
}

impl Dimensions {
    /// The same dimensions expressed in `unit`.
    pub fn to_unit(&self, unit: LengthUnit) -> Dimensions {
        let factor = match (self.unit, unit) {
            (LengthUnit::Centimeters, LengthUnit::Inches) => 1.0 / units::CM_PER_IN,
            (LengthUnit::Inches, LengthUnit::Centimeters) => units::CM_PER_IN,
            _ => 1.0,
        };
        Dimensions {
            length: self.length * factor,
            width: self.width * factor,
            height: self.height * factor,
            unit,
        }
    }
}

/// Exact conversion factors (international yard and pound agreement, 1959).
pub mod units {
    /// Kilograms in one avoirdupois pound.
    pub const KG_PER_LB: f64 = 0.453_592_37;
    /// Centimetres in one inch.
    pub const CM_PER_IN: f64 = 2.54;
}

/// Logs through the host at a level: `log!(Info, "polled {} records", n)`.
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::host::log($crate::host::Level::$level, &format!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_weights_with_exact_factors() {
        let w = Weight {
            value: 10.0,
            unit: WeightUnit::Kilograms,
        };
        assert!((w.pounds() - 22.046_226_218).abs() < 1e-6);
        let lb = Weight {
            value: 1.0,
            unit: WeightUnit::Pounds,
        };
        assert!((lb.kilograms() - 0.453_592_37).abs() < 1e-12);
        assert_eq!(lb.to_unit(WeightUnit::Pounds).value, 1.0);
    }

    #[test]
    fn converts_dimensions_both_ways() {
        let d = Dimensions {
            length: 25.4,
            width: 50.8,
            height: 2.54,
            unit: LengthUnit::Centimeters,
        };
        let inches = d.to_unit(LengthUnit::Inches);
        assert!((inches.length - 10.0).abs() < 1e-9);
        assert!((inches.width - 20.0).abs() < 1e-9);
        assert!((inches.height - 1.0).abs() < 1e-9);
        let back = inches.to_unit(LengthUnit::Centimeters);
        assert!((back.width - 50.8).abs() < 1e-9);
    }

    #[test]
    fn retryable_cases_follow_the_contract() {
        assert!(Error::Conflict("x".into()).is_retryable());
        assert!(
            Error::RateLimited(RetryInfo {
                message: "m".into(),
                retry_after_ms: Some(5)
            })
            .is_retryable()
        );
        assert!(!Error::NotFound("x".into()).is_retryable());
        assert!(!Error::invalid_input("shipment 1", "postal-code", "missing").is_retryable());
    }
}
