//! Operation tests on a scripted platform: what is sent (paths, headers, bodies, batching),
//! how answers and failures come back, and what is stored.

use mlc_plugin_sdk::{
    Dimensions, LabelFormat, LengthUnit, Parcel, TrackingStatus, Weight, WeightUnit,
};

use super::*;
use crate::platform::fake::{Fake, NOW};

const GIF_1X1: &str = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

fn hudson() -> Address {
    Address {
        name: "Hudson Street Outfitters".into(),
        attention: Some("Maria Lopez".into()),
        lines: vec!["425 Hudson St".into()],
        city: "New York".into(),
        state: Some("NY".into()),
        postal_code: "10014".into(),
        country: "US".into(),
        phone: Some("2125550141".into()),
        email: None,
    }
}

fn parcel(id: &str) -> Parcel {
    Parcel {
        id: id.into(),
        weight: Weight {
            value: 2.5,
            unit: WeightUnit::Kilograms,
        },
        dimensions: Some(Dimensions {
            length: 40.0,
            width: 30.0,
            height: 20.0,
            unit: LengthUnit::Centimeters,
        }),
        description: None,
    }
}

fn ship_request(parcels: usize) -> ShipmentRequest {
    ShipmentRequest {
        idempotency_key: "item-7:create".into(),
        reference: "1042".into(),
        order_ref: "C1001".into(),
        service: "03".into(),
        ship_to: hudson(),
        parcels: (0..parcels).map(|i| parcel(&format!("HU{i}"))).collect(),
        label_format: None,
        site: None,
    }
}

fn ship_ok(tns: &[&str]) -> Value {
    let packages: Vec<Value> = tns
        .iter()
        .map(|tn| json!({"TrackingNumber": tn, "ShippingLabel": {"ImageFormat": {"Code": "GIF"}, "GraphicImage": GIF_1X1}}))
        .collect();
    json!({"ShipmentResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "ShipmentResults": {
            "ShipmentCharges": {"TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "23.45"}},
            "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": "17.35"}},
            "ShipmentIdentificationNumber": tns[0],
            "PackageResults": packages
        }
    }})
}

fn ups_error(code: &str, message: &str) -> Value {
    json!({"response": {"errors": [{"code": code, "message": message}]}})
}

fn track_package(tn: &str, kind: &str, code: &str) -> Value {
    json!({
        "trackingNumber": tn,
        "currentStatus": {"type": kind, "code": code, "description": "x"},
        "service": {"code": "003", "description": "UPS Ground"},
        "referenceNumber": [{"type": "PACKAGE", "number": "1042"}],
        "activity": [{"status": {"type": kind, "code": code, "description": "x"},
                      "date": "20240423", "time": "095004", "gmtDate": "20240423", "gmtTime": "135004", "gmtOffset": "-04:00"}]
    })
}

fn track_body(inquiry: &str, packages: Vec<Value>) -> Value {
    json!({"trackResponse": {"shipment": [{"inquiryNumber": inquiry, "package": packages}]}})
}

#[test]
fn every_request_carries_a_fresh_trans_id_and_the_transaction_source() {
    let p = Fake::new().with_config("transaction-src", "mlc-tenant-a");
    let xav = json!({"XAVResponse": {"ValidAddressIndicator": "", "Candidate": {"AddressKeyFormat": {"AddressLine": "425 HUDSON ST", "PoliticalDivision2": "NEW YORK", "PoliticalDivision1": "NY", "PostcodePrimaryLow": "10014", "PostcodeExtendedLow": "2801", "CountryCode": "US"}}}});
    p.respond(200, xav.clone()).respond(200, xav);
    validate_address(&p, hudson()).unwrap();
    validate_address(&p, hudson()).unwrap();
    let sent = p.sent();
    assert_eq!(
        sent[0].url,
        "https://ups.example/api/addressvalidation/v2/3?maximumcandidatelistsize=15"
    );
    assert_eq!(sent[0].method, Method::Post);
    let ids: Vec<&str> = sent.iter().map(|r| r.header("transId").unwrap()).collect();
    for id in &ids {
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(sent[1].header("transactionSrc"), Some("mlc-tenant-a"));
}

#[test]
fn validation_outside_the_covered_countries_passes_the_address_through() {
    let p = Fake::new();
    let mut a = hudson();
    a.country = "DE".into();
    a.state = None;
    let v = validate_address(&p, a.clone()).unwrap();
    assert!(
        matches!(v.verdict, AddressVerdict::Valid(ref x) if x.country == a.country && x.lines == a.lines && x.postal_code == a.postal_code)
    );
    assert_eq!(v.classification, AddressClassification::Unknown);
    assert!(p.sent().is_empty());
}

#[test]
fn rate_with_a_service_and_shop_without() {
    let p = Fake::new();
    let rated = json!({"RateResponse": {"RatedShipment": {"Service": {"Code": "03"}, "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "23.45"}}}});
    p.respond(200, rated.clone()).respond(200, json!({"RateResponse": {"RatedShipment": [
        {"Service": {"Code": "03"}, "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "23.45"}, "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": "17.35"}}},
        {"Service": {"Code": "01"}, "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "77.39"}, "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": "57.27"}}}
    ]}}));
    let one = rate_shipment(
        &p,
        RateRequest {
            ship_to: hudson(),
            parcels: vec![parcel("HU1")],
            service: Some("03".into()),
            site: None,
        },
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    assert!(!one[0].negotiated);
    let all = rate_shipment(
        &p,
        RateRequest {
            ship_to: hudson(),
            parcels: vec![parcel("HU1")],
            service: None,
            site: None,
        },
    )
    .unwrap();
    assert_eq!(
        all.iter()
            .map(|r| r.total.amount.as_str())
            .collect::<Vec<_>>(),
        ["17.35", "57.27"]
    );
    let sent = p.sent();
    assert!(sent[0].url.ends_with("/rating/v2409/Rate"));
    assert!(sent[1].url.ends_with("/rating/v2409/Shop"));
    assert!(
        sent[1].body.as_ref().unwrap()["RateRequest"]["Shipment"]
            .get("Service")
            .is_none()
    );
}

#[test]
fn rate_errors_keep_the_ups_code() {
    let p = Fake::new();
    p.respond(
        400,
        ups_error(
            "111210",
            "The requested service is unavailable between the selected locations.",
        ),
    );
    let err = rate_shipment(
        &p,
        RateRequest {
            ship_to: hudson(),
            parcels: vec![parcel("HU1")],
            service: Some("07".into()),
            site: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Rejected(ref v) if v.status == 400 && v.code == "111210"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[test]
fn created_shipment_stores_its_labels_and_reference() {
    let p = Fake::new();
    p.respond(200, ship_ok(&["1ZA1B2C30300000427", "1ZA1B2C30300000436"]));
    let shipped = create_shipment(&p, ship_request(2)).unwrap();
    assert_eq!(shipped.shipment_id, "1ZA1B2C30300000427");
    assert_eq!(
        shipped.tracking_numbers,
        vec!["1ZA1B2C30300000427", "1ZA1B2C30300000436"]
    );
    assert_eq!(
        (
            shipped.charges.amount.as_str(),
            shipped.charges.currency.as_str(),
            shipped.negotiated
        ),
        ("17.35", "USD", true)
    );
    assert_eq!(shipped.reference, "1042");
    assert_eq!(shipped.created_at, Some(NOW));
    assert!(!shipped.voided);

    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].url.ends_with("/shipments/v2409/ship"));
    let body = sent[0].body.as_ref().unwrap();
    assert_eq!(
        body["ShipmentRequest"]["LabelSpecification"]["LabelImageFormat"]["Code"],
        "GIF"
    );
    assert_eq!(
        body["ShipmentRequest"]["Shipment"]["Package"][0]["ReferenceNumber"][0]["Value"],
        "1042"
    );

    let stored = p.stored("label/1ZA1B2C30300000436").unwrap();
    assert_eq!(stored["format"], "gif");
    assert_eq!(stored["data"], GIF_1X1);
    assert_eq!(
        p.stored("ref/1042").unwrap()["shipment-ids"],
        json!(["1ZA1B2C30300000427"])
    );
    assert_eq!(
        p.stored("shipment/1ZA1B2C30300000427").unwrap()["order-ref"],
        "C1001"
    );

    // The label comes back later without asking UPS.
    let label = get_label(&p, "1ZA1B2C30300000436".into()).unwrap();
    assert_eq!(label.format, LabelFormat::Gif);
    assert_eq!(&label.data[..6], b"GIF89a");
    assert_eq!(p.sent().len(), 1);
}

#[test]
fn label_format_follows_the_request_then_the_configuration() {
    let p = Fake::new().with_config("label-format", "zpl");
    p.respond(200, ship_ok(&["1ZA1B2C30300000427"]))
        .respond(200, ship_ok(&["1ZA1B2C30300000445"]));
    create_shipment(&p, ship_request(1)).unwrap();
    let mut r = ship_request(1);
    r.label_format = Some(LabelFormat::Png);
    create_shipment(&p, r).unwrap();
    let sent = p.sent();
    assert_eq!(
        sent[0].body.as_ref().unwrap()["ShipmentRequest"]["LabelSpecification"]["LabelImageFormat"]
            ["Code"],
        "ZPL"
    );
    assert_eq!(
        sent[1].body.as_ref().unwrap()["ShipmentRequest"]["LabelSpecification"]["LabelImageFormat"]
            ["Code"],
        "PNG"
    );
    assert_eq!(
        p.stored("ref/1042").unwrap()["shipment-ids"],
        json!(["1ZA1B2C30300000427", "1ZA1B2C30300000445"])
    );
}

#[test]
fn an_unreadable_answer_to_ship_is_retryable_so_the_flow_reconciles() {
    let p = Fake::new();
    p.respond_raw(
        200,
        r#"{"ShipmentResponse": {"ShipmentResults": {"ShipmentIdentif"#,
    );
    let err = create_shipment(&p, ship_request(1)).unwrap_err();
    assert!(
        matches!(err, Error::Unavailable(ref r) if r.message.contains("find-shipments")),
        "{err:?}"
    );
    // A transport failure after sending is retryable too (the SDK maps it to unavailable).
    p.fail(Error::Unavailable(RetryInfo {
        message: "connection failed".into(),
        retry_after_ms: None,
    }));
    assert!(
        create_shipment(&p, ship_request(1))
            .unwrap_err()
            .is_retryable()
    );
}

#[test]
fn ship_rejections_are_permanent_with_the_ups_code_and_nothing_is_stored() {
    let p = Fake::new();
    p.respond(
        400,
        ups_error("120100", "Missing or invalid shipper number"),
    );
    let err = create_shipment(&p, ship_request(1)).unwrap_err();
    assert!(
        matches!(err, Error::Rejected(ref v) if v.code == "120100" && v.message == "Missing or invalid shipper number"),
        "{err:?}"
    );
    assert!(p.storage.borrow().is_empty());
}

#[test]
fn storage_failure_after_ups_created_the_shipment_still_returns_it() {
    let p = Fake::new();
    *p.storage_error.borrow_mut() = Some(Error::Denied("quota".into()));
    p.respond(200, ship_ok(&["1ZA1B2C30300000427"]));
    let shipped = create_shipment(&p, ship_request(1)).unwrap();
    assert_eq!(shipped.shipment_id, "1ZA1B2C30300000427");
    assert!(p.logs.borrow().iter().any(|l| l.contains("not stored")));
}

#[test]
fn rate_limit_surfaces_as_retryable_with_retry_after() {
    let p = Fake::new();
    p.respond_with(
        429,
        &[("Retry-After", "30")],
        ups_error("10429", "Too Many Requests"),
    );
    let err = create_shipment(&p, ship_request(1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited(RetryInfo {
                retry_after_ms: Some(30_000),
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[test]
fn find_combines_storage_with_ups_and_ups_reports_voids() {
    let p = Fake::new();
    p.respond(200, ship_ok(&["1ZA1B2C30300000427"]));
    create_shipment(&p, ship_request(1)).unwrap();
    p.respond(
        200,
        track_body(
            "1042",
            vec![track_package("1ZA1B2C30300000427", "MV", "MV")],
        ),
    );
    let found = find_shipments(&p, "1042".into()).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].voided);
    assert_eq!(found[0].charges.amount, "17.35");
    let sent = p.sent();
    assert_eq!(
        sent[1].url,
        "https://ups.example/api/track/v1/reference/details/1042?locale=en_US&refNumType=SmallPackage&shipperNum=A1B2C3"
    );
    assert_eq!(sent[1].method, Method::Get);
}

#[test]
fn find_after_a_crash_before_storage_trusts_ups() {
    // UPS created two packages under reference 1042, but nothing was stored here.
    let p = Fake::new();
    p.respond(
        200,
        track_body(
            "1042",
            vec![
                track_package("1ZA1B2C30300000427", "M", "MP"),
                track_package("1ZA1B2C30300000436", "M", "MP"),
            ],
        ),
    );
    p.respond(
        200,
        track_body(
            "1ZA1B2C30300000427",
            vec![
                track_package("1ZA1B2C30300000427", "M", "MP"),
                track_package("1ZA1B2C30300000436", "M", "MP"),
            ],
        ),
    );
    let found = find_shipments(&p, "1042".into()).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let s = &found[0];
    assert_eq!(s.shipment_id, "1ZA1B2C30300000427");
    assert_eq!(
        s.tracking_numbers,
        vec!["1ZA1B2C30300000427", "1ZA1B2C30300000436"]
    );
    assert_eq!(s.service, "03");
    assert_eq!(s.reference, "1042");
    assert!(!s.voided);
    assert_eq!(s.created_at, Some(NOW));
    assert!(
        p.sent()[1]
            .url
            .contains("/track/v1/shipment/details/1ZA1B2C30300000427")
    );
}

#[test]
fn find_is_empty_on_404_but_fails_when_ups_cannot_say() {
    let p = Fake::new();
    p.respond(404, ups_error("TW0001", "Tracking Information Not Found"));
    assert!(find_shipments(&p, "9999".into()).unwrap().is_empty());
    // "Don't know" must never look like "none": the flow would create a second shipment.
    p.respond(503, ups_error("10503", "Service Unavailable"));
    assert!(matches!(
        find_shipments(&p, "9999".into()),
        Err(Error::Unavailable(_))
    ));
}

#[test]
fn void_marks_the_stored_shipment_and_a_second_void_is_not_an_error() {
    let p = Fake::new();
    p.respond(200, ship_ok(&["1ZA1B2C30300000427"]));
    create_shipment(&p, ship_request(1)).unwrap();
    p.respond(200, json!({"VoidShipmentResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
        "PackageLevelResults": {"TrackingNumber": "1ZA1B2C30300000427", "Status": {"Code": "1", "Description": "Voided"}}
    }}));
    void_shipment(&p, "1ZA1B2C30300000427".into()).unwrap();
    assert_eq!(p.sent()[1].method, Method::Delete);
    assert!(
        p.sent()[1]
            .url
            .ends_with("/shipments/v2409/void/cancel/1ZA1B2C30300000427")
    );
    assert_eq!(
        p.stored("shipment/1ZA1B2C30300000427").unwrap()["voided"],
        true
    );
    void_shipment(&p, "1ZA1B2C30300000427".into()).unwrap();
    assert_eq!(
        p.sent().len(),
        2,
        "an already voided shipment is not sent again"
    );
    // Not stored here, and UPS says it is voided already.
    p.respond(
        400,
        ups_error("190117", "The shipment has already been voided"),
    );
    void_shipment(&p, "1ZA1B2C30300000999".into()).unwrap();
}

#[test]
fn void_after_pickup_is_a_permanent_rejection() {
    let p = Fake::new();
    p.respond(
        400,
        ups_error(
            "190101",
            "The shipment cannot be voided: UPS has already picked it up.",
        ),
    );
    let err = void_shipment(&p, "1ZA1B2C30300000427".into()).unwrap_err();
    assert!(
        matches!(err, Error::Rejected(ref v) if v.code == "190101"),
        "{err:?}"
    );
}

#[test]
fn a_missing_label_is_recovered_from_ups_or_not_found() {
    let p = Fake::new();
    p.respond(200, json!({"LabelRecoveryResponse": {"LabelResults": {"TrackingNumber": "1ZA1B2C30300000427", "LabelImage": {"LabelImageFormat": {"Code": "GIF"}, "GraphicImage": GIF_1X1}}}}));
    let label = get_label(&p, "1ZA1B2C30300000427".into()).unwrap();
    assert_eq!(label.format, LabelFormat::Gif);
    assert_eq!(
        p.sent()[0].body.as_ref().unwrap()["LabelRecoveryRequest"]["TrackingNumber"],
        "1ZA1B2C30300000427"
    );
    assert!(p.stored("label/1ZA1B2C30300000427").is_some());
    p.respond(
        404,
        ups_error("404", "The requested resource was not found."),
    );
    assert!(matches!(
        get_label(&p, "1ZA1B2C30300000999".into()),
        Err(Error::NotFound(_))
    ));
    let off = Fake::new().with_config("label-recovery", "false");
    assert!(matches!(
        get_label(&off, "1ZA1B2C30300000999".into()),
        Err(Error::NotFound(_))
    ));
    assert!(off.sent().is_empty());
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("1ZA1B2C303{i:08}")).collect()
}

#[test]
fn subscribing_250_numbers_sends_three_batches_of_at_most_100() {
    let p = Fake::new();
    for _ in 0..3 {
        p.respond(200, json!({}));
    }
    let result = subscribe_tracking(&p, numbers(250)).unwrap();
    let sent = p.sent();
    let sizes: Vec<usize> = sent
        .iter()
        .map(|r| {
            r.body.as_ref().unwrap()["trackingNumberList"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    // No validTrackingNumbers and no invalid ones: every number counts as subscribed.
    assert_eq!(result.subscribed.len(), 250);
    assert!(result.refused.is_empty());
    assert!(
        result
            .subscribed
            .iter()
            .all(|(_, exp)| *exp == NOW + 14 * DAY_MS)
    );
    let first = &sent[0];
    assert_eq!(
        first.url,
        "https://ups.example/api/track/v1/subscription/standard/package"
    );
    let body = first.body.as_ref().unwrap();
    assert_eq!(body["locale"], "en_US");
    assert_eq!(body["countryCode"], "US");
    assert_eq!(
        body["destination"],
        json!({"url": "https://connector.example/webhooks/ups/t1", "credentialType": "Bearer", "credential": "s3cret"})
    );
    assert_eq!(first.header("transId").unwrap().len(), 32);
    assert!(first.header("transactionSrc").is_some());
}

#[test]
fn renewal_after_13_days_expires_14_days_from_the_renewal() {
    let p = Fake::new();
    p.respond(200, json!({"validTrackingNumbers": ["1ZA1B2C30300000427"]}));
    let first = subscribe_tracking(&p, vec!["1ZA1B2C30300000427".into()]).unwrap();
    p.now.set(NOW + 13 * DAY_MS);
    p.respond(200, json!({"validTrackingNumbers": ["1ZA1B2C30300000427"]}));
    let renewed = subscribe_tracking(&p, vec!["1ZA1B2C30300000427".into()]).unwrap();
    assert_eq!(first.subscribed[0].1, NOW + 14 * DAY_MS);
    assert_eq!(renewed.subscribed[0].1, NOW + 27 * DAY_MS);
    assert!(renewed.subscribed[0].1 > first.subscribed[0].1);
}

#[test]
fn an_invalid_number_does_not_sink_its_batch() {
    let p = Fake::new();
    let mut list = numbers(3);
    list.insert(1, "1Z1234567$8".into());
    list.push(" 1ZA1B2C30300000000 ".into()); // duplicate after trimming
    list.push("   ".into());
    p.respond(200, json!({"validTrackingNumbers": [list[0], list[2], list[3]], "invalidTrackingNumbers": ["1Z1234567$8"]}));
    let r = subscribe_tracking(&p, list).unwrap();
    assert_eq!(
        r.subscribed
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
        [
            "1ZA1B2C30300000000",
            "1ZA1B2C30300000001",
            "1ZA1B2C30300000002"
        ]
    );
    let refused: Vec<&str> = r
        .refused
        .iter()
        .map(|x| x.tracking_number.as_str())
        .collect();
    assert!(refused.contains(&"1Z1234567$8"));
    assert!(refused.contains(&"   "));
    assert_eq!(
        p.sent()[0].body.as_ref().unwrap()["trackingNumberList"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn a_400_naming_invalid_numbers_is_retried_without_them() {
    let p = Fake::new();
    p.respond(400, json!({"invalidTrackingNumbers": ["1ZBADBADBAD0000000"], "response": {"errors": [{"code": "VSS200", "message": "Invalid tracking number."}]}}));
    let list = vec![
        "1ZA1B2C30300000427".to_owned(),
        "1ZBADBADBAD0000000".to_owned(),
    ];
    p.respond(200, json!({"validTrackingNumbers": ["1ZA1B2C30300000427"]}));
    let r = subscribe_tracking(&p, list).unwrap();
    assert_eq!(r.subscribed.len(), 1);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].reason, "VSS200: Invalid tracking number.");
    let sent = p.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].body.as_ref().unwrap()["trackingNumberList"],
        json!(["1ZA1B2C30300000427"])
    );
}

#[test]
fn a_batch_of_only_invalid_numbers_is_refused_and_the_next_batch_still_goes() {
    let p = Fake::new();
    let mut list: Vec<String> = (0..100).map(|i| format!("1ZNOPE{i:012}")).collect();
    list.push("1ZA1B2C30300000427".into());
    p.respond(400, json!({"invalidTrackingNumbers": list[..100], "response": {"errors": [{"code": "VSS210", "message": "No valid tracking numbers were submitted. The Subscription request has been rejected."}]}}));
    p.respond(200, json!({"validTrackingNumbers": ["1ZA1B2C30300000427"]}));
    let r = subscribe_tracking(&p, list).unwrap();
    assert_eq!(r.refused.len(), 100);
    assert!(r.refused[0].reason.starts_with("VSS210"));
    assert_eq!(r.subscribed.len(), 1);
    assert_eq!(p.sent().len(), 2);
}

#[test]
fn subscription_errors_that_name_no_numbers_fail_the_call() {
    let p = Fake::new();
    p.respond(
        400,
        json!({"response": {"errors": [{"code": "VSS300", "message": "Locale is required."}]}}),
    );
    assert!(
        matches!(subscribe_tracking(&p, numbers(1)), Err(Error::Rejected(ref v)) if v.code == "VSS300")
    );
    p.respond_with(
        429,
        &[("retry-after", "5")],
        ups_error("10429", "Too Many Requests"),
    );
    assert!(matches!(
        subscribe_tracking(&p, numbers(1)),
        Err(Error::RateLimited(RetryInfo {
            retry_after_ms: Some(5000),
            ..
        }))
    ));
}

#[test]
fn track_alert_v2_sends_no_destination_and_v1_needs_its_settings() {
    let p = Fake::new()
        .with_config("trackalert-version", "v2")
        .with_config("trackalert-type", "enhanced")
        .with_config("trackalert-event-preferences", "D,X");
    p.respond(200, json!({"validTrackingNumbers": ["1ZA1B2C30300000427"]}));
    subscribe_tracking(&p, vec!["1ZA1B2C30300000427".into()]).unwrap();
    let sent = &p.sent()[0];
    assert!(
        sent.url
            .ends_with("/track/v2/subscription/enhanced/package")
    );
    let body = sent.body.as_ref().unwrap();
    assert!(body.get("destination").is_none());
    assert_eq!(body["eventPreferences"], json!(["D", "X"]));

    let no_url = Fake::new().without_config("trackalert-webhook-url");
    assert!(
        matches!(subscribe_tracking(&no_url, numbers(1)), Err(Error::InvalidInput(ref f)) if f.field == "trackalert-webhook-url")
    );
    let mut no_secret = Fake::new();
    no_secret.secrets.clear();
    assert!(
        matches!(subscribe_tracking(&no_secret, numbers(1)), Err(Error::InvalidInput(ref f)) if f.field == "trackalert-credential-secret")
    );
}

#[test]
fn quantum_view_pages_with_the_bookmark() {
    let p = Fake::new().with_config("quantum-view-subscription", "OutboundXML");
    let page = |bookmark: Option<&str>| {
        let mut r = json!({"QuantumViewResponse": {
            "Response": {"ResponseStatusCode": "1", "ResponseStatusDescription": "Success"},
            "QuantumViewEvents": {"SubscriberID": "MLCONNECTSIM", "SubscriptionEvents": [{"Name": "OutboundXML", "SubscriptionFile": [{
                "FileName": "240423_135004001", "StatusType": {"Code": "U"},
                "Delivery": {"TrackingNumber": "1ZA1B2C30300000427", "Date": "20240423", "Time": "095004"}
            }]}]}
        }});
        if let Some(b) = bookmark {
            r["QuantumViewResponse"]["Bookmark"] = json!(b);
        }
        r
    };
    p.respond(200, page(Some("TUxDfHU1MA==")))
        .respond(200, page(None));
    let first = poll_tracking(&p, None).unwrap();
    assert_eq!(first.bookmark.as_deref(), Some("TUxDfHU1MA=="));
    assert_eq!(first.events[0].status, TrackingStatus::Delivered);
    let second = poll_tracking(&p, first.bookmark).unwrap();
    assert_eq!(second.bookmark, None);
    let sent = p.sent();
    assert!(sent[0].url.ends_with("/quantumview/v3/events"));
    let b0 = &sent[0].body.as_ref().unwrap()["QuantumViewRequest"];
    assert_eq!(b0["Request"]["RequestAction"], "QVEvents");
    assert_eq!(b0["SubscriptionRequest"][0]["Name"], "OutboundXML");
    assert!(b0.get("Bookmark").is_none());
    assert_eq!(
        sent[1].body.as_ref().unwrap()["QuantumViewRequest"]["Bookmark"],
        "TUxDfHU1MA=="
    );
}

#[test]
fn quantum_view_failure_status_in_a_200() {
    let p = Fake::new();
    p.respond(200, json!({"QuantumViewResponse": {"Response": {"ResponseStatusCode": "0", "Error": {"ErrorSeverity": "Transient", "ErrorCode": "330040", "ErrorDescription": "Busy", "MinimumRetrySeconds": "60"}}}}));
    assert!(matches!(
        poll_tracking(&p, None),
        Err(Error::Unavailable(RetryInfo {
            retry_after_ms: Some(60_000),
            ..
        }))
    ));
    p.respond(200, json!({"QuantumViewResponse": {"Response": {"ResponseStatusCode": "0", "Error": [{"ErrorSeverity": "Hard", "ErrorCode": "330030", "ErrorDescription": "Invalid Bookmark"}]}}}));
    assert!(
        matches!(poll_tracking(&p, Some("x".into())), Err(Error::Rejected(ref v)) if v.code == "330030")
    );
}

#[test]
fn track_reads_one_number_and_404_is_not_found() {
    let p = Fake::new();
    p.respond(
        200,
        track_body(
            "1ZA1B2C30300000427",
            vec![track_package("1ZA1B2C30300000427", "I", "OT")],
        ),
    );
    let events = track(&p, " 1ZA1B2C30300000427 ".into()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, TrackingStatus::OutForDelivery);
    assert_eq!(
        p.sent()[0].url,
        "https://ups.example/api/track/v1/details/1ZA1B2C30300000427?locale=en_US&returnSignature=false&returnMilestones=false&returnPOD=false"
    );
    p.respond(404, ups_error("TW0001", "Tracking Information Not Found"));
    assert!(
        matches!(track(&p, "1ZA1B2C30300000999".into()), Err(Error::NotFound(ref m)) if m.contains("TW0001"))
    );
}

#[test]
fn webhook_parsing_needs_no_configuration() {
    let p = Fake::new().without_config("base-url");
    let body = br#"{"trackingNumber":"1ZA1B2C30300000427","activityStatus":{"type":"MV","code":"MV","description":"Manifest Void"},"gmtActivityDate":"20240423","gmtActivityTime":"135004","gmtOffset":"-04.00"}"#;
    let events = parse_tracking_webhook(&p, body.to_vec()).unwrap();
    assert_eq!(events[0].status, TrackingStatus::Voided);
    assert!(p.sent().is_empty());
}
