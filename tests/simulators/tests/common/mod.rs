//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Client, Response};
use serde_json::{Value, json};
use simulators::{SimInfo, SimOptions, Simulators};

pub async fn start(opts: SimOptions) -> (Simulators, SimInfo, Client) {
    let sims = Simulators::start(opts).await.expect("start simulators");
    let info = sims.info();
    let client = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    (sims, info, client)
}

pub async fn ifs_token(c: &Client, info: &SimInfo) -> String {
    let r = c
        .post(&info.ifs.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", info.ifs.client_id.as_str()),
            ("client_secret", info.ifs.client_secret.as_str()),
            ("scope", "openid microprofile-jwt"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn ups_token(c: &Client, info: &SimInfo) -> String {
    let r = c
        .post(&info.ups.token_url)
        .basic_auth(&info.ups.client_id, Some(&info.ups.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn json_of(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

pub fn us_address(name: &str, line: &str, city: &str, state: &str, zip: &str) -> Value {
    json!({"Name": name, "Address": {"AddressLine": [line], "City": city, "StateProvinceCode": state, "PostalCode": zip, "CountryCode": "US"}})
}

pub fn ship_request(account: &str, reference: &str, n_packages: usize) -> Value {
    let mut shipper = us_address(
        "ML Apparel Inc.",
        "1200 Fulton Industrial Blvd SW",
        "Atlanta",
        "GA",
        "30336",
    );
    shipper["ShipperNumber"] = json!(account);
    shipper["Phone"] = json!({"Number": "4045550100"});
    let pkg = json!({
        "Packaging": {"Code": "02"},
        "Dimensions": {"UnitOfMeasurement": {"Code": "IN"}, "Length": "16", "Width": "12", "Height": "8"},
        "PackageWeight": {"UnitOfMeasurement": {"Code": "LBS"}, "Weight": "12.5"},
        "ReferenceNumber": [{"Code": "PO", "Value": reference}],
    });
    json!({"ShipmentRequest": {
        "Request": {"RequestOption": "nonvalidate", "TransactionReference": {"CustomerContext": reference}},
        "Shipment": {
            "Description": "Apparel",
            "Shipper": shipper,
            "ShipTo": us_address("Hudson Street Outfitters", "425 Hudson St", "New York", "NY", "10014"),
            "PaymentInformation": {"ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": account}}]},
            "Service": {"Code": "03", "Description": "Ground"},
            "ShipmentRatingOptions": {"NegotiatedRatesIndicator": ""},
            "Package": vec![pkg; n_packages],
        },
        "LabelSpecification": {"LabelImageFormat": {"Code": "GIF"}, "HTTPUserAgent": "Mozilla/4.5"},
    }})
}

pub fn rate_request(account: &str, service: Option<&str>) -> Value {
    let mut shipper = us_address(
        "ML Apparel Inc.",
        "1200 Fulton Industrial Blvd SW",
        "Atlanta",
        "GA",
        "30336",
    );
    shipper["ShipperNumber"] = json!(account);
    let mut shipment = json!({
        "Shipper": shipper,
        "ShipTo": us_address("Golden Gate Threads", "1 Ferry Building", "San Francisco", "CA", "94111"),
        "ShipFrom": us_address("ML Apparel Inc.", "1200 Fulton Industrial Blvd SW", "Atlanta", "GA", "30336"),
        "PaymentDetails": {"ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": account}}]},
        "NumOfPieces": "1",
        "Package": {
            "PackagingType": {"Code": "02", "Description": "Packaging"},
            "Dimensions": {"UnitOfMeasurement": {"Code": "IN", "Description": "Inches"}, "Length": "24", "Width": "16", "Height": "16"},
            "PackageWeight": {"UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"}, "Weight": "20"},
        },
        "ShipmentRatingOptions": {"NegotiatedRatesIndicator": "Y"},
    });
    if let Some(s) = service {
        shipment["Service"] = json!({"Code": s, "Description": "Service"});
    }
    let option = if service.is_some() { "Rate" } else { "Shop" };
    json!({"RateRequest": {"Request": {"RequestOption": option, "TransactionReference": {"CustomerContext": "rate-test"}}, "Shipment": shipment}})
}

/// A tiny webhook receiver that records every POST (headers + body).
#[derive(Clone, Default)]
pub struct Receiver {
    pub hits: Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>>,
}

pub async fn webhook_receiver() -> (String, Receiver) {
    let rec = Receiver::default();
    let hits = rec.hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let hits = hits.clone();
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    hits.lock().unwrap().push((headers, v));
                    "ok"
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (format!("http://{addr}/hook"), rec)
}
