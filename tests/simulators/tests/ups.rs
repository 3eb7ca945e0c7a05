//! UPS simulator over raw HTTP: OAuth and quota, XAV, rating, shipping, void, tracking,
//! Track Alert with webhook pushes, Quantum View, quirks and faults.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::Duration;

use common::*;
use reqwest::Client;
use serde_json::{Value, json};
use simulators::{FaultKind, FaultSpec, SimInfo, SimOptions, Simulators};

fn api(info: &SimInfo, path: &str) -> String {
    format!("{}{path}", info.ups.base_url)
}

async fn post(c: &Client, url: &str, tok: &str, body: &Value) -> (u16, Value) {
    json_of(
        c.post(url)
            .bearer_auth(tok)
            .header("transId", "t1")
            .header("transactionSrc", "tests")
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(c: &Client, url: &str, tok: &str) -> (u16, Value) {
    json_of(
        c.get(url)
            .bearer_auth(tok)
            .header("transId", "t1")
            .header("transactionSrc", "tests")
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn valid_1z(tn: &str) -> bool {
    // Independent check-digit implementation (letters: (ord - 'A' + 2) % 10).
    let body = &tn[2..17];
    let mut total = 0;
    for (i, ch) in body.chars().enumerate() {
        let v = ch
            .to_digit(10)
            .unwrap_or_else(|| (ch as u32 - 'A' as u32 + 2) % 10);
        total += if i % 2 == 1 { 2 * v } else { v };
    }
    tn.len() == 18
        && tn.starts_with("1Z")
        && tn[17..].parse::<u32>().ok() == Some((10 - total % 10) % 10)
}

async fn ship(sims: &Simulators, c: &Client, tok: &str, reference: &str, n: usize) -> Value {
    let info = sims.info();
    let (st, v) = post(
        c,
        &api(&info, "/shipments/v2409/ship"),
        tok,
        &ship_request(&info.ups.account_number, reference, n),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v
}

#[tokio::test]
async fn token_strings_expiry_and_daily_quota() {
    let mut opts = SimOptions::default().shipments(1);
    opts.ups_daily_token_quota = 3;
    opts.ups_expires_in = 3600;
    let (sims, info, c) = start(opts).await;
    let r = c
        .post(&info.ups.token_url)
        .basic_auth(&info.ups.client_id, Some(&info.ups.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (st, v) = json_of(r).await;
    assert_eq!(st, 200);
    for (k, val) in v.as_object().unwrap() {
        assert!(val.is_string(), "{k} must be a string");
    }
    assert_eq!(v["expires_in"], "3600");
    assert_eq!(v["status"], "approved");
    let tok = v["access_token"].as_str().unwrap().to_string();
    // Wrong / missing client auth, wrong grant.
    assert_eq!(
        c.post(&info.ups.token_url)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.post(&info.ups.token_url)
            .basic_auth(&info.ups.client_id, Some("x"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.post(&info.ups.token_url)
            .basic_auth(&info.ups.client_id, Some(&info.ups.client_secret))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // Quota: 3 per UTC day.
    let _ = ups_token(&c, &info).await;
    let _ = ups_token(&c, &info).await;
    let r = c
        .post(&info.ups.token_url)
        .basic_auth(&info.ups.client_id, Some(&info.ups.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (st, v) = json_of(r).await;
    assert_eq!(st, 429);
    assert_eq!(v["response"]["errors"][0]["code"], "10429");
    assert_eq!(sims.ups().tokens_issued_today(), 3);
    assert_eq!(sims.ups().snapshot().token_quota_rejections, 1);
    // Token expiry on the sim clock.
    let url = api(&info, "/track/v1/details/1Z9W1A470300000000");
    assert_eq!(get(&c, &url, &tok).await.0, 404);
    sims.clock().advance(Duration::from_secs(3601));
    let (st, v) = get(&c, &url, &tok).await;
    assert_eq!(st, 401);
    assert!(v["response"]["errors"][0]["code"].is_string());
    // Next UTC day: quota resets.
    sims.clock().advance(Duration::from_secs(86_400));
    let _ = ups_token(&c, &info).await;
    assert_eq!(sims.ups().tokens_by_day().len(), 2);
    // No token at all.
    let (st, _) = json_of(
        c.get(&url)
            .header("transId", "a")
            .header("transactionSrc", "b")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn address_validation_valid_ambiguous_none_and_correction_in_ifs() {
    let (sims, info, c) = start(SimOptions::default().shipments(40)).await;
    let tok = ups_token(&c, &info).await;
    let url = api(&info, "/addressvalidation/v2/3");
    let xav = |line: &str, city: &str, st: &str, zip: &str| json!({"XAVRequest": {"AddressKeyFormat": {"ConsigneeName": "X", "AddressLine": [line], "PoliticalDivision2": city, "PoliticalDivision1": st, "PostcodePrimaryLow": zip, "CountryCode": "US"}}});
    let (st, v) = post(
        &c,
        &url,
        &tok,
        &xav("425 Hudson St", "New York", "NY", "10014"),
    )
    .await;
    assert_eq!(st, 200);
    let r = &v["XAVResponse"];
    assert!(r.get("ValidAddressIndicator").is_some());
    assert_eq!(r["AddressClassification"]["Code"], "1");
    assert_eq!(
        r["Candidate"][0]["AddressKeyFormat"]["PostcodePrimaryLow"],
        "10014"
    );
    let (_, v) = post(
        &c,
        &url,
        &tok,
        &xav("88 Elm St Apt 4B", "Cambridge", "MA", "02139"),
    )
    .await;
    assert_eq!(v["XAVResponse"]["AddressClassification"]["Code"], "2");
    // Seeded bad addresses: shipment index 7 (ambiguous) and 13 (no candidates).
    let ifs = sims.ifs();
    let amb = ifs.shipment(10_008).unwrap();
    let none = ifs.shipment(10_014).unwrap();
    let of = |s: &simulators::Entity| {
        xav(
            s["ReceiverAddress1"].as_str().unwrap(),
            s["ReceiverCity"].as_str().unwrap(),
            s["ReceiverState"].as_str().unwrap(),
            s["ReceiverZipCode"].as_str().unwrap(),
        )
    };
    let (_, v) = post(&c, &url, &tok, &of(&amb)).await;
    assert!(
        v["XAVResponse"].get("AmbiguousAddressIndicator").is_some(),
        "{v}"
    );
    let cands = v["XAVResponse"]["Candidate"].as_array().unwrap();
    assert!(cands.len() > 1);
    let (_, v) = post(&c, &url, &tok, &of(&none)).await;
    assert!(
        v["XAVResponse"].get("NoCandidatesIndicator").is_some(),
        "{v}"
    );
    assert!(v["XAVResponse"].get("Candidate").is_none());
    // An operator corrects the address in IFS (control API); it then validates.
    let fixed_zip = cands[0]["AddressKeyFormat"]["PostcodePrimaryLow"]
        .as_str()
        .unwrap();
    let r = c
        .patch(format!("{}/ifs/shipments/10008", info.control_url))
        .json(&json!({"ReceiverZipCode": fixed_zip}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = post(&c, &url, &tok, &of(&ifs.shipment(10_008).unwrap())).await;
    assert!(
        v["XAVResponse"].get("ValidAddressIndicator").is_some(),
        "{v}"
    );
    // Option 1 has no classification; errors.
    let (_, v) = post(
        &c,
        &api(&info, "/addressvalidation/v2/1"),
        &tok,
        &xav("425 Hudson St", "New York", "NY", "10014"),
    )
    .await;
    assert!(v["XAVResponse"].get("AddressClassification").is_none());
    assert_eq!(
        post(
            &c,
            &api(&info, "/addressvalidation/v2/4"),
            &tok,
            &xav("1 A", "B", "NY", "1")
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post(
            &c,
            &url,
            &tok,
            &json!({"XAVRequest": {"AddressKeyFormat": {"AddressLine": ["x"]}}})
        )
        .await
        .0,
        400
    );
    let (st, v) = post(&c, &url, &tok, &json!({"XAVRequest": {"AddressKeyFormat": {"CountryCode": "DE", "AddressLine": ["Meir 1"]}}})).await;
    assert_eq!(st, 400);
    assert!(v["response"]["errors"][0]["code"].is_string());
}

#[tokio::test]
async fn rate_and_shop_with_negotiated_rates() {
    let (_sims, info, c) = start(SimOptions::default().shipments(1)).await;
    let tok = ups_token(&c, &info).await;
    let (st, v) = post(
        &c,
        &api(&info, "/rating/v2409/Rate"),
        &tok,
        &rate_request(&info.ups.account_number, Some("03")),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let rs = &v["RateResponse"]["RatedShipment"];
    assert!(rs.is_array() && rs.as_array().unwrap().len() == 1);
    let r0 = &rs[0];
    assert_eq!(r0["Service"]["Code"], "03");
    let total: f64 = r0["TotalCharges"]["MonetaryValue"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let neg: f64 = r0["NegotiatedRateCharges"]["TotalCharge"]["MonetaryValue"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(neg < total && neg > 0.0);
    assert_eq!(r0["TotalCharges"]["CurrencyCode"], "USD");
    // Dimensional weight: 24x16x16/139 = 44.2 > 20 actual → billed 45 LBS.
    assert_eq!(r0["BillingWeight"]["Weight"], "45.0");
    let (st, v) = post(
        &c,
        &api(&info, "/rating/v2409/Shop"),
        &tok,
        &rate_request(&info.ups.account_number, None),
    )
    .await;
    assert_eq!(st, 200);
    let codes: Vec<&str> = v["RateResponse"]["RatedShipment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Service"]["Code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"01") && codes.contains(&"03") && codes.len() >= 5);
    // Without the indicator: published only.
    let mut req = rate_request(&info.ups.account_number, Some("02"));
    req["RateRequest"]["Shipment"]
        .as_object_mut()
        .unwrap()
        .remove("ShipmentRatingOptions");
    let (_, v) = post(&c, &api(&info, "/rating/v2409/Rate"), &tok, &req).await;
    assert!(
        v["RateResponse"]["RatedShipment"][0]
            .get("NegotiatedRateCharges")
            .is_none()
    );
    // Invalid: service not on lane, missing service, missing package, number instead of string.
    assert_eq!(
        post(
            &c,
            &api(&info, "/rating/v2409/Rate"),
            &tok,
            &rate_request(&info.ups.account_number, Some("11"))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post(
            &c,
            &api(&info, "/rating/v2409/Rate"),
            &tok,
            &rate_request(&info.ups.account_number, None)
        )
        .await
        .0,
        400
    );
    let mut req = rate_request(&info.ups.account_number, Some("03"));
    req["RateRequest"]["Shipment"]
        .as_object_mut()
        .unwrap()
        .remove("Package");
    let (st, v) = post(&c, &api(&info, "/rating/v2409/Rate"), &tok, &req).await;
    assert_eq!(st, 400);
    assert_eq!(v["response"]["errors"][0]["code"], "10002");
    let mut req = rate_request(&info.ups.account_number, Some("03"));
    req["RateRequest"]["Shipment"]["Package"]["PackageWeight"]["Weight"] = json!(20);
    assert_eq!(
        post(&c, &api(&info, "/rating/v2409/Rate"), &tok, &req)
            .await
            .0,
        400
    );
    let (st, _) = json_of(
        c.post(api(&info, "/rating/v2409/Rate"))
            .bearer_auth(&tok)
            .header("Content-Type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        post(
            &c,
            &api(&info, "/rating/v9999/Rate"),
            &tok,
            &rate_request(&info.ups.account_number, Some("03"))
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn ship_void_track_and_reference_lookup() {
    let (sims, info, c) = start(SimOptions::default().shipments(1)).await;
    let tok = ups_token(&c, &info).await;
    let v = ship(&sims, &c, &tok, "10001", 2).await;
    let res = &v["ShipmentResponse"]["ShipmentResults"];
    let id = res["ShipmentIdentificationNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let pr = res["PackageResults"].as_array().unwrap();
    assert_eq!(pr.len(), 2);
    let tns: Vec<String> = pr
        .iter()
        .map(|p| p["TrackingNumber"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tns[0], id);
    assert!(tns.iter().all(|t| valid_1z(t)), "{tns:?}");
    assert!(tns[0].starts_with(&format!("1Z{}03", info.ups.account_number)));
    let label = pr[0]["ShippingLabel"]["GraphicImage"].as_str().unwrap();
    use base64::Engine;
    let gif = base64::engine::general_purpose::STANDARD
        .decode(label)
        .unwrap();
    assert!(gif.starts_with(b"GIF8"));
    assert!(res["NegotiatedRateCharges"]["TotalCharge"]["MonetaryValue"].is_string());
    assert!(res["ShipmentCharges"]["TotalCharges"]["MonetaryValue"].is_string());
    // Tracking: manifest only so far.
    let (st, t) = get(
        &c,
        &api(&info, &format!("/track/v1/details/{}", tns[1])),
        &tok,
    )
    .await;
    assert_eq!(st, 200);
    let pkg = &t["trackResponse"]["shipment"][0]["package"][0];
    assert_eq!(pkg["currentStatus"]["type"], "M");
    assert_eq!(pkg["trackingNumber"], tns[1].as_str());
    // By reference.
    let (st, t) = get(&c, &api(&info, "/track/v1/reference/details/10001"), &tok).await;
    assert_eq!(st, 200);
    assert_eq!(
        t["trackResponse"]["shipment"][0]["package"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get(&c, &api(&info, "/track/v1/reference/details/nope"), &tok)
            .await
            .0,
        404
    );
    // Required headers on tracking.
    let (st, v) = json_of(
        c.get(api(&info, &format!("/track/v1/details/{id}")))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    assert!(v["response"]["errors"][0]["code"].is_string());
    // Void while still only manifested.
    let (st, v) = json_of(
        c.delete(api(&info, &format!("/shipments/v2409/void/cancel/{id}")))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["VoidShipmentResponse"]["SummaryResult"]["Status"]["Code"],
        "1"
    );
    let (_, t) = get(&c, &api(&info, &format!("/track/v1/details/{id}")), &tok).await;
    assert_eq!(
        t["trackResponse"]["shipment"][0]["package"][0]["currentStatus"]["type"],
        "MV"
    );
    assert_eq!(
        json_of(
            c.delete(api(
                &info,
                "/shipments/v2409/void/cancel/1Z9W1A470399999999"
            ))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
        )
        .await
        .0,
        400
    );
    // A second shipment progresses; once picked up it cannot be voided.
    let v2 = ship(&sims, &c, &tok, "10002", 1).await;
    let id2 = v2["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
        .as_str()
        .unwrap()
        .to_string();
    sims.advance(Duration::from_secs(8 * 3600)).await.unwrap();
    let tok = ups_token(&c, &info).await;
    assert_eq!(
        json_of(
            c.delete(api(&info, &format!("/shipments/v2409/void/cancel/{id2}")))
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );
    sims.advance(Duration::from_secs(14 * 86_400))
        .await
        .unwrap();
    let tok = ups_token(&c, &info).await;
    let (_, t) = get(&c, &api(&info, &format!("/track/v1/details/{id2}")), &tok).await;
    let pkg = &t["trackResponse"]["shipment"][0]["package"][0];
    assert_eq!(pkg["currentStatus"]["type"], "D");
    let acts = pkg["activity"].as_array().unwrap();
    assert!(acts.len() >= 5);
    assert_eq!(acts[0]["status"]["code"], "FS", "most recent first");
    // Inspection: per reference.
    let refs = sims.ups().shipments_by_reference();
    assert_eq!(refs["10001"].created, 1);
    assert_eq!(refs["10001"].voided, 1);
    assert_eq!(refs["10002"].active, 1);
    let shipments = sims.ups().shipments();
    assert!(shipments[0].voided && !shipments[1].voided);
    assert!(shipments[1].delivered_at.is_some());
    // Missing required fields → 400 in UPS's error shape.
    let mut bad = ship_request(&info.ups.account_number, "x", 1);
    bad["ShipmentRequest"]["Shipment"]["ShipTo"]
        .as_object_mut()
        .unwrap()
        .remove("Name");
    let (st, v) = post(&c, &api(&info, "/shipments/v2409/ship"), &tok, &bad).await;
    assert_eq!(st, 400);
    assert!(
        v["response"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ShipTo")
    );
    let mut bad = ship_request("XXXXXX", "x", 1);
    bad["ShipmentRequest"]["Shipment"]["PaymentInformation"]["ShipmentCharge"][0]["BillShipper"]
        ["AccountNumber"] = json!(info.ups.account_number);
    assert_eq!(
        post(&c, &api(&info, "/shipments/v2409/ship"), &tok, &bad)
            .await
            .0,
        400
    );
    let mut bad = ship_request(&info.ups.account_number, "x", 1);
    bad["ShipmentRequest"]["Shipment"]["Package"][0]
        .as_object_mut()
        .unwrap()
        .remove("Packaging");
    assert_eq!(
        post(&c, &api(&info, "/shipments/v2409/ship"), &tok, &bad)
            .await
            .0,
        400
    );
    let mut bad = ship_request(&info.ups.account_number, "x", 1);
    bad["ShipmentRequest"]["Shipment"]["Package"][0]["Dimensions"]["Length"] = json!("200");
    assert_eq!(
        post(&c, &api(&info, "/shipments/v2409/ship"), &tok, &bad)
            .await
            .0,
        400
    );
    assert_eq!(
        sims.ups().shipments().len(),
        2,
        "rejected requests create nothing"
    );
}

#[tokio::test]
async fn track_alert_v1_subscription_pushes_and_expiry() {
    let (sims, info, c) = start(SimOptions::default().shipments(1)).await;
    let tok = ups_token(&c, &info).await;
    let (hook, rec) = webhook_receiver().await;
    let mut tns = Vec::new();
    for i in 0..3 {
        let v = ship(&sims, &c, &tok, &format!("R{i}"), 1).await;
        tns.push(
            v["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let url = api(&info, "/track/v1/subscription/standard/package");
    let dest = json!({"url": hook, "credentialType": "Bearer", "credential": "s3cret"});
    // Over 100 numbers: whole request rejected.
    let many: Vec<String> = (0..101).map(|_| tns[0].clone()).collect();
    let (st, v) = post(&c, &url, &tok, &json!({"locale": "en_US", "countryCode": "US", "trackingNumberList": many, "destination": dest})).await;
    assert_eq!(st, 400);
    assert_eq!(v["response"]["errors"][0]["code"], "VSS220");
    assert!(sims.ups().subscriptions().is_empty());
    // Missing locale / destination pieces.
    assert_eq!(
        post(
            &c,
            &url,
            &tok,
            &json!({"trackingNumberList": [tns[0]], "destination": dest})
        )
        .await
        .1["response"]["errors"][0]["code"],
        "VSS300"
    );
    assert_eq!(
        post(
            &c,
            &url,
            &tok,
            &json!({"locale": "en_US", "trackingNumberList": [tns[0]]})
        )
        .await
        .1["response"]["errors"][0]["code"],
        "VSS500"
    );
    assert_eq!(post(&c, &url, &tok, &json!({"locale": "en_US", "trackingNumberList": [tns[0]], "destination": {"url": hook, "credentialType": "Bearer"}})).await.1["response"]["errors"][0]["code"], "VSS700");
    let (st, _) = json_of(
        c.post(&url)
            .bearer_auth(&tok)
            .json(&json!({"locale": "en_US", "trackingNumberList": [tns[0]], "destination": dest}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400, "transId/transactionSrc are required");
    // Partial: valid ones subscribe, invalid ones are reported.
    let (st, v) = post(&c, &url, &tok, &json!({"locale": "en_US", "countryCode": "US", "trackingNumberList": [tns[0], tns[1], "1Z1234567$8", "1Z999AA10123456784"], "destination": dest})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["validTrackingNumbers"].as_array().unwrap().len(), 2);
    assert_eq!(v["invalidTrackingNumbers"].as_array().unwrap().len(), 2);
    let (st, v) = post(
        &c,
        &url,
        &tok,
        &json!({"locale": "en_US", "trackingNumberList": ["nope"], "destination": dest}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(v["invalidTrackingNumbers"][0], "nope");
    let subs = sims.ups().subscriptions();
    assert_eq!(subs.len(), 2);
    assert_eq!((subs[0].expires_at - subs[0].subscribed_at).num_days(), 14);
    // Events after subscription are pushed with the credential header; the manifest event
    // happened before and is not (no history).
    sims.advance(Duration::from_secs(12 * 3600)).await.unwrap();
    let hits = rec.hits.lock().unwrap().clone();
    assert!(!hits.is_empty());
    for (h, body) in &hits {
        assert_eq!(h["credential"], "s3cret");
        assert_eq!(h["user-agent"], "UPSPubSubTrackingService");
        assert!(tns[..2].contains(&body["trackingNumber"].as_str().unwrap().to_string()));
        assert_ne!(body["activityStatus"]["type"], "M");
        assert_eq!(body["gmtOffset"].as_str().unwrap().len(), 6);
    }
    assert!(
        hits.iter()
            .all(|(_, b)| b["trackingNumber"] != tns[2].as_str()),
        "unsubscribed shipment not pushed"
    );
    let deliveries = sims.ups().webhook_deliveries();
    assert!(deliveries.iter().all(|d| d.delivered && d.attempts == 1));
    // Subscriptions expire after 14 days: events after that are not pushed.
    sims.advance(Duration::from_secs(15 * 86_400))
        .await
        .unwrap();
    let before = rec.hits.lock().unwrap().len();
    let tok = ups_token(&c, &info).await;
    let v = ship(&sims, &c, &tok, "late", 1).await;
    let late = v["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
        .as_str()
        .unwrap()
        .to_string();
    sims.advance(Duration::from_secs(86_400)).await.unwrap();
    assert_eq!(rec.hits.lock().unwrap().len(), before);
    // The delivered event did reach the webhook for subscribed packages.
    let hits = rec.hits.lock().unwrap().clone();
    assert!(hits.iter().any(|(_, b)| b["activityStatus"]["type"] == "D" && b["actualDeliveryDate"].is_string()));
    // Re-subscribing renews; failed deliveries are retried and recorded.
    let tok = ups_token(&c, &info).await;
    let (st, _) = post(&c, &url, &tok, &json!({"locale": "en_US", "trackingNumberList": [late], "destination": {"url": "http://127.0.0.1:9/none", "credentialType": "Bearer", "credential": "x"}})).await;
    assert_eq!(st, 200);
    sims.advance(Duration::from_secs(3 * 86_400)).await.unwrap();
    let failed: Vec<_> = sims
        .ups()
        .webhook_deliveries()
        .into_iter()
        .filter(|d| !d.delivered)
        .collect();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|d| d.attempts == 3));
}

#[tokio::test]
async fn track_alert_v2_uses_configured_webhook() {
    let (sims, info, c) = start(SimOptions::default().shipments(1)).await;
    let tok = ups_token(&c, &info).await;
    let (hook, rec) = webhook_receiver().await;
    let r = c
        .put(format!("{}/ups/webhook", info.control_url))
        .json(&json!({"url": hook, "credential": "v2cred"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = ship(&sims, &c, &tok, "V2", 1).await;
    let tn = v["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = post(&c, &api(&info, "/track/v2/subscription/enhanced/package"), &tok, &json!({"locale": "en_US", "countryCode": "US", "trackingNumberList": [tn], "eventPreferences": ["D"]})).await;
    assert_eq!(st, 200, "{v}");
    let r = c
        .post(format!("{}/clock/advance", info.control_url))
        .json(&json!({"days": 6, "wait": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let hits = rec.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 1, "only the delivery event was asked for");
    assert_eq!(hits[0].0["credential"], "v2cred");
    assert_eq!(hits[0].1["activityStatus"]["code"], "FS");
    assert_eq!(
        post(
            &c,
            &api(&info, "/track/v2/subscription/bogus/package"),
            &tok,
            &json!({})
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn quantum_view_pages_with_bookmark() {
    let (sims, info, c) = start(SimOptions::default().shipments(1)).await;
    let tok = ups_token(&c, &info).await;
    for i in 0..12 {
        ship(&sims, &c, &tok, &format!("QV{i}"), 1).await;
    }
    sims.advance(Duration::from_secs(10 * 86_400))
        .await
        .unwrap();
    let tok = ups_token(&c, &info).await;
    let url = api(&info, "/quantumview/v3/events");
    let base = json!({"QuantumViewRequest": {"Request": {"TransactionReference": {"CustomerContext": "qv"}, "RequestAction": "QVEvents"}, "SubscriptionRequest": [{"Name": "OutboundXML"}]}});
    let mut req = base.clone();
    let mut pages = 0;
    let mut deliveries = 0;
    let mut manifests = 0;
    loop {
        let (st, v) = post(&c, &url, &tok, &req).await;
        assert_eq!(st, 200, "{v}");
        pages += 1;
        let qv = &v["QuantumViewResponse"];
        assert_eq!(qv["Response"]["ResponseStatusCode"], "1");
        for f in qv["QuantumViewEvents"]["SubscriptionEvents"][0]["SubscriptionFile"]
            .as_array()
            .into_iter()
            .flatten()
        {
            deliveries += f["Delivery"].as_array().map_or(0, Vec::len);
            manifests += f["Manifest"].as_array().map_or(0, Vec::len);
        }
        match qv["Bookmark"].as_str() {
            Some(b) => {
                req = base.clone();
                req["QuantumViewRequest"]["Bookmark"] = json!(b);
            }
            None => break,
        }
    }
    assert!(pages >= 2, "{pages}");
    assert_eq!(deliveries, 12);
    assert_eq!(manifests, 12);
    // Unread mode: everything is read now.
    let (_, v) = post(&c, &url, &tok, &base).await;
    assert!(
        v["QuantumViewResponse"]["QuantumViewEvents"]["SubscriptionEvents"][0]
            .get("SubscriptionFile")
            .is_none()
    );
    assert_eq!(sims.ups().snapshot().quantum_view_unread, 0);
    // Errors.
    let mut bad = base.clone();
    bad["QuantumViewRequest"]["Request"]["RequestAction"] = json!("Other");
    assert_eq!(post(&c, &url, &tok, &bad).await.0, 400);
    let mut bad = base.clone();
    bad["QuantumViewRequest"]["Bookmark"] = json!("!!!");
    assert_eq!(post(&c, &url, &tok, &bad).await.0, 400);
    assert_eq!(
        post(&c, &url, &tok, &json!({"QuantumViewRequest": {}}))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn single_object_quirk_and_faults() {
    let (sims, info, c) = start(SimOptions::default().shipments(1)).await;
    let tok = ups_token(&c, &info).await;
    let r = c
        .put(format!("{}/ups/quirks", info.control_url))
        .json(&json!({"single_object": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = post(
        &c,
        &api(&info, "/rating/v2409/Rate"),
        &tok,
        &rate_request(&info.ups.account_number, Some("03")),
    )
    .await;
    assert!(v["RateResponse"]["RatedShipment"].is_object());
    let v = ship(&sims, &c, &tok, "Q", 1).await;
    assert!(v["ShipmentResponse"]["ShipmentResults"]["PackageResults"].is_object());
    sims.ups().set_single_object(false);
    // 429 without and with Retry-After, 500/503 in UPS's shape, malformed, drop, delay.
    let rate = api(&info, "/rating/v2409/Rate");
    let req = rate_request(&info.ups.account_number, Some("03"));
    sims.install_fault(FaultSpec::next("ups.rate", FaultKind::TooManyRequests, 1))
        .unwrap();
    let r = c
        .post(&rate)
        .bearer_auth(&tok)
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(!r.headers().contains_key("retry-after"));
    assert_eq!(json_of(r).await.1["response"]["errors"][0]["code"], "10429");
    sims.install_fault(
        FaultSpec::next("ups.rate", FaultKind::TooManyRequests, 1).with_retry_after(2),
    )
    .unwrap();
    let r = c
        .post(&rate)
        .bearer_auth(&tok)
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "2");
    for (k, code) in [
        (FaultKind::InternalError, 500),
        (FaultKind::Unavailable, 503),
    ] {
        sims.install_fault(FaultSpec::next("ups.*", k, 1)).unwrap();
        let (st, v) = post(&c, &rate, &tok, &req).await;
        assert_eq!(st, code);
        assert!(v["response"]["errors"][0]["code"].is_string());
    }
    sims.install_fault(FaultSpec::next("ups.rate", FaultKind::Malformed, 1))
        .unwrap();
    let (st, v) = post(&c, &rate, &tok, &req).await;
    assert_eq!(st, 200);
    assert!(v.is_string(), "body is not JSON");
    // Dropped after processing: the shipment exists although the client saw no response.
    sims.install_fault(FaultSpec::next("ups.ship", FaultKind::DropAfter, 1))
        .unwrap();
    let r = c
        .post(api(&info, "/shipments/v2409/ship"))
        .bearer_auth(&tok)
        .json(&ship_request(&info.ups.account_number, "DROPPED", 1))
        .send()
        .await;
    assert!(r.is_err());
    assert_eq!(sims.ups().shipments_by_reference()["DROPPED"].created, 1);
    sims.install_fault(FaultSpec::next("ups.ship", FaultKind::Drop, 1))
        .unwrap();
    let r = c
        .post(api(&info, "/shipments/v2409/ship"))
        .bearer_auth(&tok)
        .json(&ship_request(&info.ups.account_number, "NEVER", 1))
        .send()
        .await;
    assert!(r.is_err());
    assert!(!sims.ups().shipments_by_reference().contains_key("NEVER"));
    // Delay past the client's timeout: processed, answer too late.
    sims.install_fault(FaultSpec::next("ups.ship", FaultKind::Delay, 1).with_delay_ms(700))
        .unwrap();
    let quick = Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let r = quick
        .post(api(&info, "/shipments/v2409/ship"))
        .bearer_auth(&tok)
        .json(&ship_request(&info.ups.account_number, "SLOW", 1))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    // Fault installed through the control API in CLI syntax, then cleared.
    let r = c
        .post(format!("{}/faults", info.control_url))
        .json(&json!({"spec": "ups.token=503@next=1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .post(&info.ups.token_url)
        .basic_auth(&info.ups.client_id, Some(&info.ups.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = c
        .post(format!("{}/faults", info.control_url))
        .json(&json!({"route": "ups.xav", "kind": "500", "rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        c.delete(format!("{}/faults?route=ups.xav", info.control_url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(sims.faults().is_empty());
    assert_eq!(
        c.post(format!("{}/faults", info.control_url))
            .json(&json!({"route": "x", "kind": "bogus"}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let reqs = sims.ups().requests(Some("ups.ship"));
    assert!(
        reqs.iter()
            .any(|r| r.fault.as_deref() == Some("drop") && r.status == 0)
    );
    assert!(
        reqs.iter()
            .all(|r| r.headers.get("authorization").is_none_or(|a| a == "Bearer"))
    );
}

#[tokio::test]
async fn label_recovery_by_tracking_number() {
    let (sims, info, c) = start(SimOptions::default().shipments(1)).await;
    let tok = ups_token(&c, &info).await;
    let v = ship(&sims, &c, &tok, "10001", 2).await;
    let tn = v["ShipmentResponse"]["ShipmentResults"]["PackageResults"][1]["TrackingNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let url = api(&info, "/labels/v1/recovery");
    let (st, v) = post(
        &c,
        &url,
        &tok,
        &json!({"LabelRecoveryRequest": {
            "LabelSpecification": {"LabelImageFormat": {"Code": "ZPL"}, "LabelStockSize": {"Height": "6", "Width": "4"}},
            "TrackingNumber": tn,
        }}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let r = &v["LabelRecoveryResponse"]["LabelResults"];
    assert_eq!(r["TrackingNumber"], json!(tn));
    assert_eq!(r["LabelImage"]["LabelImageFormat"]["Code"], "ZPL");
    use base64::Engine;
    let zpl = base64::engine::general_purpose::STANDARD
        .decode(r["LabelImage"]["GraphicImage"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8_lossy(&zpl).contains(&tn));
    let (st, v) = post(
        &c,
        &url,
        &tok,
        &json!({"LabelRecoveryRequest": {"TrackingNumber": "1Z9W1A470399999997"}}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(v["response"]["errors"][0]["code"], "190202");
    assert_eq!(
        sims.ups().requests(Some("ups.label_recovery")).len(),
        2,
        "route key"
    );
}
