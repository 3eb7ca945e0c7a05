//! Mapping tests with bodies shaped like UPS's specs, the examples in reference/ups.md and what
//! the UPS simulator sends (including its single-object mode and string numbers).

use mlc_plugin_sdk::{Dimensions, Weight};

use super::*;
use crate::platform::fake::Fake;

fn settings() -> Settings {
    Settings::load(&Fake::new()).unwrap()
}

fn addr(
    name: &str,
    line: &str,
    city: &str,
    state: Option<&str>,
    zip: &str,
    country: &str,
) -> Address {
    Address {
        name: name.into(),
        attention: None,
        lines: vec![line.into()],
        city: city.into(),
        state: state.map(Into::into),
        postal_code: zip.into(),
        country: country.into(),
        phone: Some("2125550141".into()),
        email: None,
    }
}

fn hudson() -> Address {
    addr(
        "Hudson Street Outfitters",
        "425 Hudson St",
        "New York",
        Some("NY"),
        "10014",
        "US",
    )
}

fn parcel(id: &str, kg: f64, cm: Option<[f64; 3]>) -> Parcel {
    Parcel {
        id: id.into(),
        weight: Weight {
            value: kg,
            unit: WeightUnit::Kilograms,
        },
        dimensions: cm.map(|[l, w, h]| Dimensions {
            length: l,
            width: w,
            height: h,
            unit: LengthUnit::Centimeters,
        }),
        description: Some("Apparel".into()),
    }
}

fn xav(body: Value) -> api::XavResponse {
    serde_json::from_value::<api::XavEnvelope>(body)
        .unwrap()
        .xav_response
}

#[test]
fn xav_valid_returns_the_corrected_address_and_classification() {
    // As the simulator answers option 3 for a valid address, in single-object mode.
    let r = xav(json!({"XAVResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "ValidAddressIndicator": "",
        "AddressClassification": {"Code": "1", "Description": "Commercial"},
        "Candidate": {
            "AddressClassification": {"Code": "1", "Description": "Commercial"},
            "AddressKeyFormat": {
                "AddressLine": "425 HUDSON ST",
                "PoliticalDivision2": "NEW YORK", "PoliticalDivision1": "NY",
                "PostcodePrimaryLow": "10014", "PostcodeExtendedLow": "2801",
                "Region": "NEW YORK NY 10014-2801", "CountryCode": "US"
            }
        }
    }}));
    let v = xav_result(&r, &hudson());
    assert_eq!(v.classification, AddressClassification::Commercial);
    let AddressVerdict::Valid(a) = v.verdict else {
        panic!("{:?}", v.verdict)
    };
    assert_eq!(a.lines, vec!["425 HUDSON ST"]);
    assert_eq!(a.city, "NEW YORK");
    assert_eq!(a.postal_code, "10014-2801");
    // Contact details are kept from the input.
    assert_eq!(a.name, "Hudson Street Outfitters");
    assert_eq!(a.phone.as_deref(), Some("2125550141"));
}

#[test]
fn xav_ambiguous_lists_candidates_and_residential_wins_from_candidate() {
    let r = xav(json!({"XAVResponse": {
        "AmbiguousAddressIndicator": "",
        "Candidate": [
            {"AddressClassification": {"Code": "2"}, "AddressKeyFormat": {"AddressLine": ["88 ELM ST", "APT 4B"], "PoliticalDivision2": "CAMBRIDGE", "PoliticalDivision1": "MA", "PostcodePrimaryLow": "02139", "PostcodeExtendedLow": "4307", "CountryCode": "US"}},
            {"AddressClassification": {"Code": "2"}, "AddressKeyFormat": {"AddressLine": ["88 ELM ST", "APT 4B"], "PoliticalDivision2": "CAMBRIDGE", "PoliticalDivision1": "MA", "PostcodePrimaryLow": "02138", "CountryCode": "US"}}
        ]
    }}));
    let v = xav_result(&r, &hudson());
    assert_eq!(v.classification, AddressClassification::Residential);
    let AddressVerdict::Ambiguous(c) = v.verdict else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].postal_code, "02139-4307");
    assert_eq!(c[1].postal_code, "02138");
    assert_eq!(c[1].lines, vec!["88 ELM ST", "APT 4B"]);
}

#[test]
fn xav_no_candidates() {
    let r = xav(
        json!({"XAVResponse": {"NoCandidatesIndicator": "", "AddressClassification": {"Code": "0", "Description": "UnClassified"}}}),
    );
    let v = xav_result(&r, &hudson());
    assert!(matches!(v.verdict, AddressVerdict::NoCandidates));
    assert_eq!(v.classification, AddressClassification::Unknown);
}

#[test]
fn xav_request_splits_zip_plus_four() {
    let mut a = hudson();
    a.postal_code = "10014-2801".into();
    let body = xav_request(&a);
    let k = &body["XAVRequest"]["AddressKeyFormat"];
    assert_eq!(k["PostcodePrimaryLow"], "10014");
    assert_eq!(k["PostcodeExtendedLow"], "2801");
    assert_eq!(k["PoliticalDivision2"], "New York");
    assert_eq!(k["PoliticalDivision1"], "NY");
    assert_eq!(k["AddressLine"], json!(["425 Hudson St"]));
    assert_eq!(k["CountryCode"], "US");
}

#[test]
fn weights_round_up_to_a_tenth_and_dimensions_to_whole_units() {
    assert_eq!(format_weight(5.0), "5");
    assert_eq!(format_weight(22.046_226_218), "22.1");
    assert_eq!(format_weight(2.2), "2.2");
    assert_eq!(format_weight(0.01), "0.1");
    // Float noise from an exact conversion must not add a tenth: 1 kg given as 2.2046… lb.
    let lbs = Weight {
        value: 4.535_923_7,
        unit: WeightUnit::Kilograms,
    }
    .pounds();
    assert_eq!(format_weight(lbs), "10");
    assert_eq!(format_dimension(15.748), "16");
    assert_eq!(format_dimension(15.49), "15");
    assert_eq!(format_dimension(0.2), "1");
    // 40 x 30 x 20 cm carton in inches.
    let d = Dimensions {
        length: 40.0,
        width: 30.0,
        height: 20.0,
        unit: LengthUnit::Centimeters,
    }
    .to_unit(LengthUnit::Inches);
    assert_eq!(
        [
            format_dimension(d.length),
            format_dimension(d.width),
            format_dimension(d.height)
        ],
        ["16", "12", "8"]
    );
}

#[test]
fn rate_request_converts_to_the_shippers_units_and_asks_for_negotiated_rates() {
    let s = settings();
    let body = rate_request(
        &s,
        &hudson(),
        &[parcel("HU1", 10.0, Some([40.0, 30.0, 20.0]))],
        Some("03"),
    )
    .unwrap();
    let sh = &body["RateRequest"]["Shipment"];
    assert_eq!(sh["Shipper"]["ShipperNumber"], "A1B2C3");
    assert_eq!(sh["Shipper"]["Address"]["PostalCode"], "30336");
    assert_eq!(sh["ShipFrom"]["Address"]["City"], "Atlanta");
    assert_eq!(sh["ShipTo"]["Address"]["StateProvinceCode"], "NY");
    assert_eq!(
        sh["PaymentDetails"]["ShipmentCharge"][0]["BillShipper"]["AccountNumber"],
        "A1B2C3"
    );
    assert_eq!(sh["PaymentDetails"]["ShipmentCharge"][0]["Type"], "01");
    assert_eq!(sh["Service"]["Code"], "03");
    assert_eq!(sh["NumOfPieces"], "1");
    let pkg = &sh["Package"][0];
    assert_eq!(pkg["PackagingType"]["Code"], "02");
    assert_eq!(pkg["PackageWeight"]["UnitOfMeasurement"]["Code"], "LBS");
    assert_eq!(pkg["PackageWeight"]["Weight"], "22.1");
    assert_eq!(pkg["Dimensions"]["UnitOfMeasurement"]["Code"], "IN");
    assert_eq!(pkg["Dimensions"]["Length"], "16");
    assert_eq!(sh["ShipmentRatingOptions"]["NegotiatedRatesIndicator"], "");
    // Shop: no service.
    let shop = rate_request(&s, &hudson(), &[parcel("HU1", 1.0, None)], None).unwrap();
    assert_eq!(body["RateRequest"]["Request"]["RequestOption"], "Rate");
    assert!(shop["RateRequest"]["Shipment"].get("Service").is_none());
    assert_eq!(shop["RateRequest"]["Request"]["RequestOption"], "Shop");
    assert!(
        shop["RateRequest"]["Shipment"]["Package"][0]
            .get("Dimensions")
            .is_none()
    );
}

#[test]
fn metric_shipper_declares_kgs_and_cm() {
    let s = Settings::load(&Fake::new().with_config(
        "ship-from",
        r#"{"name":"ML Apparel Europe B.V.","lines":["Celsiusweg 20"],"city":"Venlo","postal-code":"5928 PR","country":"NL","phone":"+31775550100"}"#,
    ))
    .unwrap();
    let p = Parcel {
        id: "HU9".into(),
        weight: Weight {
            value: 11.0,
            unit: WeightUnit::Pounds,
        },
        dimensions: Some(Dimensions {
            length: 24.0,
            width: 16.0,
            height: 16.0,
            unit: LengthUnit::Inches,
        }),
        description: None,
    };
    let body = rate_request(
        &s,
        &addr(
            "Modehaus Berlin GmbH",
            "Kurfuerstendamm 21",
            "Berlin",
            None,
            "10719",
            "DE",
        ),
        &[p],
        None,
    )
    .unwrap();
    let pkg = &body["RateRequest"]["Shipment"]["Package"][0];
    assert_eq!(pkg["PackageWeight"]["UnitOfMeasurement"]["Code"], "KGS");
    assert_eq!(pkg["PackageWeight"]["Weight"], "5"); // 4.98951607 kg, rounded up to a tenth
    assert_eq!(pkg["Dimensions"]["UnitOfMeasurement"]["Code"], "CM");
    assert_eq!(pkg["Dimensions"]["Length"], "61"); // 60.96 cm
    assert!(
        body["RateRequest"]["Shipment"]["ShipTo"]["Address"]
            .get("StateProvinceCode")
            .is_none()
    );
}

#[test]
fn invalid_parcels_are_invalid_input() {
    let s = settings();
    let err = rate_request(&s, &hudson(), &[parcel("HU1", 0.0, None)], None).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput(ref f) if f.subject == "parcel HU1" && f.field == "weight"),
        "{err:?}"
    );
    let err = rate_request(
        &s,
        &hudson(),
        &[parcel("HU2", 1.0, Some([10.0, f64::NAN, 1.0]))],
        None,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(ref f) if f.field == "dimensions.width"));
    let err = rate_request(&s, &hudson(), &[], None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(ref f) if f.field == "parcels"));
}

fn rate_resp(body: Value) -> api::RateResponse {
    serde_json::from_value::<api::RateEnvelope>(body)
        .unwrap()
        .rate_response
}

#[test]
fn rates_prefer_negotiated_and_fall_back_to_published() {
    let r = rate_resp(json!({"RateResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "RatedShipment": [
            {"Service": {"Code": "03", "Description": ""},
             "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "23.45"},
             "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": "17.35"}},
             "GuaranteedDelivery": {"BusinessDaysInTransit": "3"}},
            {"Service": {"Code": "02", "Description": "UPS 2nd Day Air"},
             "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": 51.6}}
        ]
    }}));
    let rates = rates(&r, "USD");
    assert_eq!(rates.len(), 2);
    assert_eq!(rates[0].service, "03");
    assert_eq!(rates[0].service_name, "UPS Ground");
    assert_eq!(rates[0].total.amount, "17.35");
    assert_eq!(rates[0].published_total.amount, "23.45");
    assert!(rates[0].negotiated);
    assert_eq!(rates[0].transit_days, Some(3));
    assert_eq!(rates[1].total.amount, "51.6");
    assert_eq!(rates[1].total.currency, "USD");
    assert!(!rates[1].negotiated);
    assert_eq!(rates[1].transit_days, None);
}

#[test]
fn rates_read_a_single_rated_shipment_object() {
    let r = rate_resp(json!({"RateResponse": {"RatedShipment": {
        "Service": {"Code": "11"},
        "TotalCharges": {"CurrencyCode": "EUR", "MonetaryValue": "31.10"},
        "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "EUR", "MonetaryValue": "23.01"}}
    }}}));
    let rates = rates(&r, "USD");
    assert_eq!(rates.len(), 1);
    assert_eq!(rates[0].total.currency, "EUR");
    assert_eq!(rates[0].service_name, "UPS Standard");
}

#[test]
fn decimals_are_kept_as_text() {
    assert_eq!(decimal(&Text::from("23.45")), Some("23.45".into()));
    assert_eq!(decimal(&Text::from(" 7 ")), Some("7".into()));
    assert_eq!(decimal(&Text::from("-1.50")), Some("-1.50".into()));
    assert_eq!(decimal(&Text::from("1.")), None);
    assert_eq!(decimal(&Text::from("1e3")), None);
    assert_eq!(decimal(&Text::from("")), None);
}

fn ship_input<'a>(to: &'a Address, parcels: &'a [Parcel]) -> ShipInput<'a> {
    ShipInput {
        idempotency_key: "ship-1042-1",
        reference: "1042",
        order_ref: "C1001",
        service: "03",
        ship_to: to,
        parcels,
        label_format: LabelFormat::Zpl,
    }
}

#[test]
fn ship_request_puts_references_on_packages_for_domestic_us() {
    let s = settings();
    let to = hudson();
    let parcels = [
        parcel("HU1", 2.0, Some([40.0, 30.0, 20.0])),
        parcel("HU2", 3.0, None),
    ];
    let body = ship_request(&s, &ship_input(&to, &parcels)).unwrap();
    let req = &body["ShipmentRequest"];
    assert_eq!(req["Request"]["RequestOption"], "nonvalidate");
    assert_eq!(
        req["Request"]["TransactionReference"]["CustomerContext"],
        "ship-1042-1"
    );
    let sh = &req["Shipment"];
    assert_eq!(sh["Shipper"]["ShipperNumber"], "A1B2C3");
    assert_eq!(sh["Shipper"]["Phone"]["Number"], "4045550100");
    assert_eq!(
        sh["PaymentInformation"]["ShipmentCharge"][0]["BillShipper"]["AccountNumber"],
        "A1B2C3"
    );
    assert_eq!(sh["Service"]["Code"], "03");
    assert!(sh.get("ReferenceNumber").is_none());
    for pkg in sh["Package"].as_array().unwrap() {
        assert_eq!(pkg["Packaging"]["Code"], "02");
        assert_eq!(
            pkg["ReferenceNumber"],
            json!([{"Code": "TN", "Value": "1042"}, {"Code": "PO", "Value": "C1001"}])
        );
    }
    assert_eq!(sh["Package"][1]["PackageWeight"]["Weight"], "6.7"); // 3 kg = 6.61 lb
    assert_eq!(req["LabelSpecification"]["LabelImageFormat"]["Code"], "ZPL");
    assert_eq!(
        req["LabelSpecification"]["LabelStockSize"],
        json!({"Height": "6", "Width": "4"})
    );
}

#[test]
fn ship_request_puts_references_on_the_shipment_across_borders() {
    let s = settings();
    let to = addr(
        "Maple Leaf Apparel",
        "220 Yonge St",
        "Toronto",
        Some("ON"),
        "M5B 2H1",
        "CA",
    );
    let parcels = [parcel("HU1", 2.0, None)];
    let body = ship_request(&s, &ship_input(&to, &parcels)).unwrap();
    let sh = &body["ShipmentRequest"]["Shipment"];
    assert_eq!(sh["ReferenceNumber"][0]["Value"], "1042");
    assert!(sh["Package"][0].get("ReferenceNumber").is_none());
    let long = "X".repeat(36);
    let mut i = ship_input(&to, &parcels);
    i.reference = &long;
    assert!(
        matches!(ship_request(&s, &i), Err(Error::InvalidInput(ref f)) if f.field == "reference")
    );
    let unset = Settings::load(&Fake::new().without_config("shipper-number")).unwrap();
    assert!(
        matches!(ship_request(&unset, &ship_input(&to, &parcels)), Err(Error::InvalidInput(ref f)) if f.field == "shipper-number")
    );
}

const GIF_1X1: &str = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

#[test]
fn shipped_reads_single_package_results_labels_and_negotiated_charges() {
    let env: api::ShipEnvelope = serde_json::from_value(json!({"ShipmentResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "ShipmentResults": {
            "ShipmentCharges": {"TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "23.45"}},
            "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": "17.35"}},
            "ShipmentIdentificationNumber": "1ZA1B2C30300000427",
            "PackageResults": {
                "TrackingNumber": "1ZA1B2C30300000427",
                "ShippingLabel": {"ImageFormat": {"Code": "GIF", "Description": "GIF"}, "GraphicImage": GIF_1X1}
            }
        }
    }}))
    .unwrap();
    let s = shipped(
        &env.shipment_response.shipment_results,
        LabelFormat::Png,
        "USD",
    )
    .unwrap();
    assert_eq!(s.shipment_id, "1ZA1B2C30300000427");
    assert_eq!(s.tracking_numbers, vec!["1ZA1B2C30300000427"]);
    let (money, negotiated) = s.charges.unwrap();
    assert_eq!(money.amount, "17.35");
    assert!(negotiated);
    assert_eq!(s.labels.len(), 1);
    assert_eq!(s.labels[0].1.format, LabelFormat::Gif);
    assert_eq!(&s.labels[0].1.data[..6], b"GIF89a");
}

#[test]
fn status_table_follows_type_and_code() {
    use TrackingStatus::*;
    assert_eq!(tracking_status("M", "MP", false), Manifested);
    assert_eq!(tracking_status("I", "OR", false), InTransit);
    assert_eq!(tracking_status("I", "OT", false), OutForDelivery);
    assert_eq!(tracking_status("X", "X1", false), Exception);
    assert_eq!(tracking_status("D", "FS", false), Delivered);
    assert_eq!(tracking_status("D", "", true), Delivered);
    assert_eq!(tracking_status("D", "OF", false), OutForDelivery);
    assert_eq!(tracking_status("MV", "MV", false), Voided);
    assert_eq!(tracking_status("U", "", false), InTransit);
    assert_eq!(tracking_status("P", "", false), InTransit);
    assert_eq!(tracking_status("Q", "", false), InTransit);
    assert_eq!(tracking_status("mv", "", false), Voided);
}

#[test]
fn webhook_delivered_event_from_the_spec_example() {
    // reference/ups.md §6.4, with the v1 example's leading space in the tracking number.
    let body = br#"{
      "trackingNumber": " 1Z204W4R0308071865",
      "localActivityDate": "20240423", "localActivityTime": "095004",
      "activityLocation": { "city": "CHARLOTTE", "stateProvince": "NC", "postalCode": "28209", "country": "US" },
      "activityStatus": { "type": "D", "code": "FS", "description": "Delivered", "descriptionCode": "011" },
      "scheduledDeliveryDate": "20191014",
      "actualDeliveryDate": "20240423", "actualDeliveryTime": "095004",
      "gmtActivityDate": "20240423", "gmtActivityTime": "135004", "gmtOffset": "-04.00",
      "deliveryStartTime": "", "deliveryEndTime": "", "deliveryTimeDescription": "end of day",
      "deliveryPhoto": "", "alternateTrackingNumber": "1Z", "receivedBy": "John"
    }"#;
    let events = pushed_events(body, 0).unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.tracking_number, "1Z204W4R0308071865");
    assert_eq!(e.status, TrackingStatus::Delivered);
    assert_eq!(e.carrier_code, "FS");
    assert_eq!(e.description, "Delivered");
    assert_eq!(e.occurred_at, 1_713_880_204_000);
    assert_eq!(e.delivered_at, Some(1_713_880_204_000));
    assert_eq!(e.location.as_deref(), Some("CHARLOTTE, NC, US"));
    assert_eq!(e.received_by.as_deref(), Some("John"));
}

#[test]
fn webhook_empty_strings_are_unknown_and_local_time_uses_the_offset() {
    let body = br#"{"trackingNumber":"1ZCIETST0111111114","localActivityDate":"20240422","localActivityTime":"81500",
        "activityLocation":{"city":"","stateProvince":"","postalCode":"","country":"US"},
        "activityStatus":{"type":"I","code":"OT","description":"Out for Delivery","descriptionCode":"021"},
        "actualDeliveryDate":"","actualDeliveryTime":"","gmtActivityDate":"","gmtActivityTime":"","gmtOffset":"-04.00","receivedBy":""}"#;
    let e = &pushed_events(body, 0).unwrap()[0];
    assert_eq!(e.status, TrackingStatus::OutForDelivery);
    // 08:15:00 at -04:00 is 12:15:00 UTC.
    assert_eq!(e.occurred_at, time::utc_ms("20240422", "121500").unwrap());
    assert_eq!(e.location.as_deref(), Some("US"));
    assert_eq!(e.delivered_at, None);
    assert_eq!(e.received_by, None);
    // Type D without FS and without an actual delivery date is not delivered.
    let body = br#"{"trackingNumber":"1ZX","activityStatus":{"type":"D","code":"OF","description":"Loaded on Delivery Vehicle"},"gmtActivityDate":"20240422","gmtActivityTime":"120000"}"#;
    assert_eq!(
        pushed_events(body, 0).unwrap()[0].status,
        TrackingStatus::OutForDelivery
    );
}

#[test]
fn webhook_garbage_is_invalid_input() {
    for body in [
        &b"not json"[..],
        b"[1,2]",
        br#"{"activityStatus":{"type":"I"}}"#,
        br#"{"trackingNumber":"1Z"}"#,
        br#"{"trackingNumber":"  "}"#,
    ] {
        let err = pushed_events(body, 0).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(_)),
            "{err:?} for {}",
            String::from_utf8_lossy(body)
        );
    }
    // An event without any date takes the arrival time.
    let e = &pushed_events(
        br#"{"trackingNumber":"1ZA","activityStatus":{"type":"M","code":"MP"}}"#,
        42,
    )
    .unwrap()[0];
    assert_eq!((e.status, e.occurred_at), (TrackingStatus::Manifested, 42));
}

#[test]
fn track_api_events_newest_first_with_padded_gmt_time() {
    // Shaped like Tracking.yaml's example and the simulator's package_json.
    let r: api::TrackEnvelope = serde_json::from_value(json!({"trackResponse": {"shipment": [{
        "inquiryNumber": "1Z023E2X0214323462",
        "package": [{
            "trackingNumber": "1Z023E2X0214323462",
            "deliveryDate": [{"type": "SDD", "date": "20210211"}, {"type": "DEL", "date": "20210211"}],
            "deliveryTime": {"type": "DEL", "endTime": "103000"},
            "deliveryInformation": {"receivedBy": "RECEIVING", "location": "Front Desk"},
            "currentStatus": {"type": "D", "code": "FS", "description": "Delivered", "statusCode": "011"},
            "activity": [
                {"location": {"address": {"city": "Wayne", "stateProvince": "NJ", "countryCode": "US", "country": "US"}},
                 "status": {"type": "D", "code": "FS", "description": "Delivered", "statusCode": "011"},
                 "date": "20210211", "time": "103000", "gmtDate": "20210211", "gmtTime": "153000", "gmtOffset": "-05:00"},
                {"location": {"address": {"city": "Wayne", "stateProvince": "NJ", "country": "US"}},
                 "status": {"type": "I", "code": "OT", "description": "Out For Delivery Today", "statusCode": "021"},
                 "date": "20210211", "time": "024700", "gmtDate": "20210211", "gmtTime": "74700", "gmtOffset": "-05:00"},
                {"location": {"address": {"city": "", "stateProvince": "", "country": "US"}},
                 "status": {"type": "M", "code": "MP", "description": "Shipper created a label", "statusCode": "003"},
                 "date": "20210210", "time": "071356", "gmtOffset": "-05:00"}
            ]
        }]
    }]}}))
    .unwrap();
    let events = track_events(&r.track_response, "1Z023E2X0214323462");
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].status, TrackingStatus::Delivered);
    assert_eq!(
        events[0].delivered_at,
        Some(time::utc_ms("20210211", "153000").unwrap())
    );
    assert_eq!(events[0].received_by.as_deref(), Some("RECEIVING"));
    assert_eq!(events[1].status, TrackingStatus::OutForDelivery);
    assert_eq!(
        events[1].occurred_at,
        time::utc_ms("20210211", "074700").unwrap()
    );
    assert_eq!(events[1].location.as_deref(), Some("Wayne, NJ, US"));
    assert_eq!(events[1].received_by, None);
    // No GMT fields: local time shifted by the "-05:00" offset.
    assert_eq!(events[2].status, TrackingStatus::Manifested);
    assert_eq!(
        events[2].occurred_at,
        time::utc_ms("20210210", "121356").unwrap()
    );
    assert_eq!(events[2].location.as_deref(), Some("US"));
}

#[test]
fn quantum_view_records_become_events() {
    // Simulator shape in single-object mode: SubscriptionEvents and SubscriptionFile collapsed.
    let env: api::QvEnvelope = serde_json::from_value(json!({"QuantumViewResponse": {
        "Response": {"TransactionReference": {"CustomerContext": "poll"}, "ResponseStatusCode": "1", "ResponseStatusDescription": "Success"},
        "QuantumViewEvents": {"SubscriberID": "MLCONNECTSIM", "SubscriptionEvents": {
            "Name": "OutboundXML", "Number": "1", "SubscriptionStatus": {"Code": "A", "Description": "Active"},
            "SubscriptionFile": {
                "FileName": "240423_135004001", "StatusType": {"Code": "U", "Description": "Unread"},
                "Manifest": [{"Shipper": {"Name": "ML", "Address": {"City": "Atlanta", "CountryCode": "US"}},
                              "PickupDate": "20240423",
                              "Package": [{"TrackingNumber": "1ZA1B2C30300000427", "Activity": [{"Date": "20240423", "Time": "095004"}]}]}],
                "Origin": [{"TrackingNumber": "1ZA1B2C30300000427", "Date": "20240423", "Time": "150000",
                            "ActivityLocation": {"AddressArtifactFormat": {"PoliticalDivision2": "Atlanta", "PoliticalDivision1": "GA"}}}],
                "Exception": [{"TrackingNumber": "1ZA1B2C30300000427", "Date": "20240425", "Time": "130500", "StatusCode": "X1",
                               "StatusDescription": "The receiver was not available for delivery.", "ReasonCode": "NA", "ReasonDescription": "RECEIVER NOT AVAILABLE"}],
                "Delivery": [{"TrackingNumber": "1ZA1B2C30300000427", "Date": "20240426", "Time": "110000",
                              "DeliveryLocation": {"Code": "M1", "Description": "Front Desk", "SignedForByName": "RECEIVING"}}],
                "Generic": [{"ActivityType": "OT", "TrackingNumber": "1ZA1B2C30300000427", "Activity": {"Date": "20240426", "Time": "080000"}},
                            {"ActivityType": "VM", "TrackingNumber": "1ZA1B2C30300000999", "Activity": {"Date": "20240426", "Time": "080000"}}]
            }
        }},
        "Bookmark": "TUxDT05ORUNUU0lNfE91dGJvdW5kWE1MfHU1MA=="
    }}))
    .unwrap();
    let qv = env.quantum_view_response.quantum_view_events.unwrap();
    let events = qv_events(&qv, -5 * 3600);
    let statuses: Vec<TrackingStatus> = events.iter().map(|e| e.status).collect();
    use TrackingStatus::*;
    assert_eq!(
        statuses,
        vec![
            Manifested,
            InTransit,
            Exception,
            Delivered,
            OutForDelivery,
            Voided
        ]
    );
    assert_eq!(events[0].location.as_deref(), Some("Atlanta, US"));
    assert_eq!(
        events[0].occurred_at,
        time::utc_ms("20240423", "145004").unwrap()
    );
    assert_eq!(events[1].location.as_deref(), Some("Atlanta, GA"));
    assert_eq!(events[2].carrier_code, "X1");
    assert_eq!(
        events[2].description,
        "The receiver was not available for delivery.: RECEIVER NOT AVAILABLE"
    );
    assert_eq!(events[3].received_by.as_deref(), Some("RECEIVING"));
    assert_eq!(events[3].delivered_at, Some(events[3].occurred_at));
    assert_eq!(events[5].tracking_number, "1ZA1B2C30300000999");
}

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn ups_error_bodies_map_to_contract_errors() {
    let e = error_from(&resp(
        400,
        &[],
        r#"{"response":{"errors":[{"code":"120100","message":"Missing or invalid shipper number"}]}}"#,
    ));
    let Error::Rejected(v) = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (v.status, v.code.as_str(), v.message.as_str()),
        (400, "120100", "Missing or invalid shipper number")
    );
    // Single error object instead of an array, and a numeric code.
    let e = error_from(&resp(
        400,
        &[],
        r#"{"response":{"errors":{"code":264002,"message":"Country Code is invalid"}}}"#,
    ));
    assert!(
        matches!(e, Error::Rejected(ref v) if v.code == "264002"),
        "{e:?}"
    );
    match error_from(&resp(
        429,
        &[("retry-after", "7")],
        r#"{"response":{"errors":[{"code":"10429","message":"Too Many Requests"}]}}"#,
    )) {
        Error::RateLimited(r) => {
            assert_eq!(r.retry_after_ms, Some(7000));
            assert!(r.message.contains("10429"), "{}", r.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        error_from(&resp(
            429,
            &[],
            r#"{"response":{"errors":[{"code":"10429","message":"Too Many Requests"}]}}"#
        )),
        Error::RateLimited(RetryInfo {
            retry_after_ms: None,
            ..
        })
    ));
    assert!(
        matches!(error_from(&resp(401, &[], r#"{"response":{"errors":[{"code":"250002","message":"Invalid Authentication Information."}]}}"#)), Error::Unauthorized(ref m) if m.contains("250002"))
    );
    assert!(matches!(
        error_from(&resp(
            404,
            &[],
            r#"{"response":{"errors":[{"code":"TW0001","message":"Tracking Information Not Found"}]}}"#
        )),
        Error::NotFound(_)
    ));
    assert!(matches!(
        error_from(&resp(
            503,
            &[],
            r#"{"response":{"errors":[{"code":"10503","message":"Service Unavailable"}]}}"#
        )),
        Error::Unavailable(_)
    ));
    assert!(
        matches!(error_from(&resp(500, &[], "<html>oops</html>")), Error::Unavailable(ref r) if r.message.contains("oops"))
    );
    // Quantum View's own error list with MinimumRetrySeconds.
    let qv = r#"{"QuantumViewResponse":{"Response":{"ResponseStatusCode":"0","Error":[{"ErrorSeverity":"Transient","ErrorCode":"330040","ErrorDescription":"Busy","MinimumRetrySeconds":"30"}]}}}"#;
    assert!(matches!(
        error_from(&resp(503, &[], qv)),
        Error::Unavailable(RetryInfo {
            retry_after_ms: Some(30_000),
            ..
        })
    ));
    assert!(
        matches!(error_from(&resp(400, &[], "")), Error::Rejected(ref v) if v.message == "no details")
    );
}
