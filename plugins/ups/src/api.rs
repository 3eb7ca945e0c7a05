//! UPS response bodies (serde), written for what UPS really sends rather than what the specs
//! promise: every scalar may be a string, a number or absent ([`Text`]); every container that
//! can repeat may be an array, a single object or absent ([`Many`]); presence/absence indicators
//! are `Option<Value>` so that `""` counts as present. Requests are built with `json!` in
//! `mapping.rs`, where their shape can be read next to the spec excerpt.
//!
//! PascalCase APIs: Rating, Shipping, Address Validation, Quantum View. lowerCamelCase: Tracking
//! and Track Alert.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A scalar UPS sends as a string, a number, a boolean or null; kept as text, never as a float.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Text(pub(crate) String);

impl Text {
    /// The trimmed value, `None` when empty ("empty strings mean unknown").
    pub(crate) fn known(&self) -> Option<&str> {
        let t = self.0.trim();
        (!t.is_empty()).then_some(t)
    }

    /// The trimmed value (possibly empty).
    pub(crate) fn trimmed(&self) -> &str {
        self.0.trim()
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(s.to_owned())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
                d.deserialize_any(V)
            }
        }
        d.deserialize_any(V)
    }
}

/// A container UPS documents as an array but may send as one bare object, or leave out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Many<T>(pub(crate) Vec<T>);

impl<T> Default for Many<T> {
    fn default() -> Self {
        Many(Vec::new())
    }
}

impl<T> Deref for Many<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Many<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Decide on the JSON shape first, so that a struct is never read from an array.
        let value = Value::deserialize(d)?;
        let items = match value {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            other => vec![other],
        };
        items
            .into_iter()
            .map(|v| T::deserialize(v).map_err(de::Error::custom))
            .collect::<Result<Vec<T>, _>>()
            .map(Many)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared PascalCase pieces

/// `{Code, Description}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct CodeDesc {
    pub(crate) code: Text,
    pub(crate) description: Text,
}

/// `{CurrencyCode, MonetaryValue}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Charge {
    pub(crate) currency_code: Text,
    pub(crate) monetary_value: Text,
}

/// `NegotiatedRateCharges`: documented with the singular `TotalCharge`; the plural is accepted
/// too because the names drift between APIs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct NegotiatedCharges {
    pub(crate) total_charge: Option<Charge>,
    pub(crate) total_charges: Option<Charge>,
}

impl NegotiatedCharges {
    pub(crate) fn total(&self) -> Option<&Charge> {
        self.total_charge.as_ref().or(self.total_charges.as_ref())
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Every UPS error body: `{"response":{"errors":[{"code","message"}]}}`, with Track Alert's
/// sibling `invalidTrackingNumbers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    pub(crate) response: Option<ErrorList>,
    #[serde(rename = "invalidTrackingNumbers")]
    pub(crate) invalid_tracking_numbers: Many<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorList {
    pub(crate) errors: Many<ErrorItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorItem {
    pub(crate) code: Text,
    pub(crate) message: Text,
}

// ---------------------------------------------------------------------------------------------
// Address Validation (XAV)

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct XavEnvelope {
    #[serde(rename = "XAVResponse")]
    pub(crate) xav_response: XavResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct XavResponse {
    /// Presence/absence indicators: present (usually `""`) means set.
    pub(crate) valid_address_indicator: Option<Value>,
    pub(crate) ambiguous_address_indicator: Option<Value>,
    pub(crate) no_candidates_indicator: Option<Value>,
    pub(crate) address_classification: Option<CodeDesc>,
    pub(crate) candidate: Many<XavCandidate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct XavCandidate {
    pub(crate) address_classification: Option<CodeDesc>,
    pub(crate) address_key_format: AddressKeyFormat,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct AddressKeyFormat {
    pub(crate) consignee_name: Text,
    pub(crate) attention_name: Text,
    pub(crate) address_line: Many<Text>,
    pub(crate) region: Text,
    pub(crate) political_division2: Text,
    pub(crate) political_division1: Text,
    pub(crate) postcode_primary_low: Text,
    pub(crate) postcode_extended_low: Text,
    pub(crate) urbanization: Text,
    pub(crate) country_code: Text,
}

// ---------------------------------------------------------------------------------------------
// Rating

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RateEnvelope {
    pub(crate) rate_response: RateResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RateResponse {
    pub(crate) rated_shipment: Many<RatedShipment>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RatedShipment {
    pub(crate) service: CodeDesc,
    pub(crate) total_charges: Option<Charge>,
    pub(crate) negotiated_rate_charges: Option<NegotiatedCharges>,
    pub(crate) guaranteed_delivery: Option<GuaranteedDelivery>,
    pub(crate) time_in_transit: Option<TimeInTransit>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GuaranteedDelivery {
    pub(crate) business_days_in_transit: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TimeInTransit {
    pub(crate) service_summary: Many<ServiceSummary>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ServiceSummary {
    pub(crate) estimated_arrival: Option<EstimatedArrival>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct EstimatedArrival {
    pub(crate) business_days_in_transit: Text,
}

// ---------------------------------------------------------------------------------------------
// Shipping: ship, void, label recovery

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ShipEnvelope {
    pub(crate) shipment_response: ShipmentResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ShipmentResponse {
    pub(crate) shipment_results: ShipmentResults,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ShipmentResults {
    pub(crate) shipment_identification_number: Text,
    pub(crate) shipment_charges: Option<ShipmentCharges>,
    pub(crate) negotiated_rate_charges: Option<NegotiatedCharges>,
    pub(crate) package_results: Many<PackageResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ShipmentCharges {
    pub(crate) total_charges: Option<Charge>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct PackageResult {
    pub(crate) tracking_number: Text,
    pub(crate) shipping_label: Option<LabelImage>,
}

/// `ShippingLabel` (ship) and `LabelImage` (label recovery) carry the same two fields, with the
/// format under `ImageFormat` or `LabelImageFormat`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct LabelImage {
    pub(crate) image_format: Option<CodeDesc>,
    pub(crate) label_image_format: Option<CodeDesc>,
    pub(crate) graphic_image: Text,
}

impl LabelImage {
    pub(crate) fn format_code(&self) -> Option<&str> {
        self.image_format
            .as_ref()
            .or(self.label_image_format.as_ref())
            .and_then(|f| f.code.known())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct VoidEnvelope {
    pub(crate) void_shipment_response: VoidShipmentResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct VoidShipmentResponse {
    pub(crate) summary_result: Option<VoidSummary>,
    pub(crate) package_level_results: Many<VoidPackageResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct VoidSummary {
    pub(crate) status: CodeDesc,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct VoidPackageResult {
    pub(crate) tracking_number: Text,
    pub(crate) status: CodeDesc,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct LabelRecoveryEnvelope {
    pub(crate) label_recovery_response: LabelRecoveryResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct LabelRecoveryResponse {
    pub(crate) label_results: Many<LabelResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct LabelResult {
    pub(crate) tracking_number: Text,
    pub(crate) label_image: Option<LabelImage>,
}

// ---------------------------------------------------------------------------------------------
// Tracking API (lowerCamelCase)

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackEnvelope {
    pub(crate) track_response: TrackResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackResponse {
    pub(crate) shipment: Many<TrackShipment>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackShipment {
    pub(crate) inquiry_number: Text,
    pub(crate) package: Many<TrackPackage>,
    pub(crate) warnings: Many<ErrorItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackPackage {
    pub(crate) tracking_number: Text,
    pub(crate) current_status: Option<TrackStatus>,
    pub(crate) activity: Many<TrackActivity>,
    pub(crate) delivery_date: Many<TypedDate>,
    pub(crate) delivery_time: Option<DeliveryTime>,
    pub(crate) delivery_information: Option<DeliveryInformation>,
    pub(crate) reference_number: Many<TypedNumber>,
    pub(crate) service: Option<TrackService>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackStatus {
    #[serde(rename = "type")]
    pub(crate) kind: Text,
    pub(crate) code: Text,
    pub(crate) description: Text,
    pub(crate) status_code: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackActivity {
    pub(crate) date: Text,
    pub(crate) time: Text,
    pub(crate) gmt_date: Text,
    pub(crate) gmt_time: Text,
    pub(crate) gmt_offset: Text,
    pub(crate) location: Option<TrackLocation>,
    pub(crate) status: Option<TrackStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackLocation {
    pub(crate) address: Option<TrackAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackAddress {
    pub(crate) city: Text,
    pub(crate) state_province: Text,
    pub(crate) postal_code: Text,
    pub(crate) country: Text,
    pub(crate) country_code: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TypedDate {
    #[serde(rename = "type")]
    pub(crate) kind: Text,
    pub(crate) date: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DeliveryTime {
    #[serde(rename = "type")]
    pub(crate) kind: Text,
    pub(crate) start_time: Text,
    pub(crate) end_time: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DeliveryInformation {
    pub(crate) received_by: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TypedNumber {
    #[serde(rename = "type")]
    pub(crate) kind: Text,
    pub(crate) number: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrackService {
    pub(crate) code: Text,
    pub(crate) description: Text,
}

// ---------------------------------------------------------------------------------------------
// Track Alert

/// `PackageSubscriptionSuccessResponse` (200) and the `invalidTrackingNumbers` of a 400.
/// Items of `invalidTrackingNumbers` are strings per the spec; objects carrying a number and a
/// reason are accepted too.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SubscriptionResponse {
    pub(crate) valid_tracking_numbers: Option<Many<Text>>,
    pub(crate) invalid_tracking_numbers: Many<Value>,
}

/// `webhooks.TrackingEvent` as pushed by Track Alert (v1 and v2 share it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PushedEvent {
    pub(crate) tracking_number: Option<Text>,
    pub(crate) local_activity_date: Text,
    pub(crate) local_activity_time: Text,
    pub(crate) activity_location: Option<PushedLocation>,
    pub(crate) activity_status: Option<PushedStatus>,
    pub(crate) actual_delivery_date: Text,
    pub(crate) actual_delivery_time: Text,
    pub(crate) gmt_activity_date: Text,
    pub(crate) gmt_activity_time: Text,
    pub(crate) gmt_offset: Text,
    pub(crate) received_by: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PushedLocation {
    pub(crate) city: Text,
    pub(crate) state_province: Text,
    pub(crate) postal_code: Text,
    pub(crate) country: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PushedStatus {
    #[serde(rename = "type")]
    pub(crate) kind: Text,
    pub(crate) code: Text,
    pub(crate) description: Text,
    pub(crate) description_code: Text,
}

// ---------------------------------------------------------------------------------------------
// Quantum View

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvEnvelope {
    pub(crate) quantum_view_response: QvResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvResponse {
    pub(crate) response: QvStatus,
    pub(crate) quantum_view_events: Option<QvEvents>,
    /// `Bookmark`; also accepted misplaced inside `QuantumViewEvents` (the spec's own example
    /// misplaces it on the request side).
    pub(crate) bookmark: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvStatus {
    pub(crate) response_status_code: Text,
    pub(crate) response_status_description: Text,
    pub(crate) error: Many<QvError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvError {
    pub(crate) error_severity: Text,
    pub(crate) error_code: Text,
    pub(crate) error_description: Text,
    pub(crate) minimum_retry_seconds: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvEvents {
    #[serde(rename = "SubscriberID")]
    pub(crate) subscriber_id: Text,
    pub(crate) subscription_events: Many<QvSubscriptionEvents>,
    pub(crate) bookmark: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvSubscriptionEvents {
    pub(crate) name: Text,
    pub(crate) subscription_file: Many<QvFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvFile {
    pub(crate) file_name: Text,
    pub(crate) manifest: Many<QvManifest>,
    pub(crate) origin: Many<QvRecord>,
    pub(crate) exception: Many<QvRecord>,
    pub(crate) delivery: Many<QvRecord>,
    pub(crate) generic: Many<QvGeneric>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvManifest {
    pub(crate) shipper: Option<QvParty>,
    pub(crate) pickup_date: Text,
    pub(crate) package: Many<QvManifestPackage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvParty {
    pub(crate) address: Option<QvPartyAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvPartyAddress {
    pub(crate) city: Text,
    pub(crate) state_province_code: Text,
    pub(crate) country_code: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvManifestPackage {
    pub(crate) tracking_number: Text,
    pub(crate) activity: Many<QvDateTime>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvDateTime {
    pub(crate) date: Text,
    pub(crate) time: Text,
}

/// Origin, Exception and Delivery records share these fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvRecord {
    pub(crate) tracking_number: Text,
    pub(crate) date: Text,
    pub(crate) time: Text,
    pub(crate) activity_location: Option<QvActivityLocation>,
    /// Exception only.
    pub(crate) status_code: Text,
    pub(crate) status_description: Text,
    pub(crate) reason_code: Text,
    pub(crate) reason_description: Text,
    /// Delivery only.
    pub(crate) delivery_location: Option<QvDeliveryLocation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvActivityLocation {
    pub(crate) address_artifact_format: Option<QvArtifact>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvArtifact {
    pub(crate) political_division2: Text,
    pub(crate) political_division1: Text,
    pub(crate) country_code: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvDeliveryLocation {
    pub(crate) signed_for_by_name: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct QvGeneric {
    pub(crate) activity_type: Text,
    pub(crate) tracking_number: Text,
    pub(crate) activity: Many<QvDateTime>,
    pub(crate) rescheduled_delivery_date: Text,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_accepts_strings_numbers_and_null() {
        #[derive(Deserialize)]
        struct T {
            a: Text,
            b: Text,
            c: Text,
            #[serde(default)]
            d: Text,
        }
        let t: T = serde_json::from_str(r#"{"a":"03","b":12.5,"c":null}"#).unwrap();
        assert_eq!(&*t.a, "03");
        assert_eq!(&*t.b, "12.5");
        assert_eq!(t.c.known(), None);
        assert_eq!(t.d.known(), None);
    }

    #[test]
    fn many_accepts_array_object_and_absence() {
        let one: RateEnvelope = serde_json::from_str(
            r#"{"RateResponse":{"RatedShipment":{"Service":{"Code":"03"},"TotalCharges":{"CurrencyCode":"USD","MonetaryValue":"12.30"}}}}"#,
        )
        .unwrap();
        assert_eq!(one.rate_response.rated_shipment.len(), 1);
        let many: RateEnvelope = serde_json::from_str(
            r#"{"RateResponse":{"RatedShipment":[{"Service":{"Code":"03"}},{"Service":{"Code":"02"}}]}}"#,
        )
        .unwrap();
        assert_eq!(many.rate_response.rated_shipment.len(), 2);
        let none: RateEnvelope = serde_json::from_str(r#"{"RateResponse":{}}"#).unwrap();
        assert!(none.rate_response.rated_shipment.is_empty());
        let lines: AddressKeyFormat =
            serde_json::from_str(r#"{"AddressLine":"425 HUDSON ST"}"#).unwrap();
        assert_eq!(&*lines.address_line[0], "425 HUDSON ST");
    }

    #[test]
    fn indicators_count_when_present_and_empty() {
        let x: XavEnvelope =
            serde_json::from_str(r#"{"XAVResponse":{"ValidAddressIndicator":"","Candidate":[]}}"#)
                .unwrap();
        assert!(x.xav_response.valid_address_indicator.is_some());
        assert!(x.xav_response.ambiguous_address_indicator.is_none());
    }
}
