//! IFS simulator over raw HTTP: tokens, OData queries, paging, concurrency, charges, faults.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use simulators::{FaultKind, FaultSpec, SimOptions};

const COMPLETED: &str = "Objstate eq IfsApp.ShipmentHandling.ShipmentState'Completed'";

#[tokio::test]
async fn token_endpoint_accepts_body_and_basic_and_rejects_wrong_credentials() {
    let (sims, info, c) = start(SimOptions::default().shipments(5)).await;
    let r = c
        .post(&info.ifs.token_url)
        .basic_auth(&info.ifs.client_id, Some(&info.ifs.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (st, v) = json_of(r).await;
    assert_eq!(st, 200);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    let _ = ifs_token(&c, &info).await;
    let r = c
        .post(&info.ifs.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &info.ifs.client_id),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(&info.ifs.token_url)
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let wrong_realm = info.ifs.token_url.replace("/mlcsim/", "/other/");
    let r = c
        .post(&wrong_realm)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(sims.ifs().tokens_issued(), 2);
    assert_eq!(sims.ifs().snapshot().tokens_issued, 2);
}

#[tokio::test]
async fn expired_or_unknown_bearer_gets_401() {
    let mut opts = SimOptions::default().shipments(3);
    opts.ifs_token_lifetime = Duration::from_secs(180);
    let (sims, info, c) = start(opts).await;
    let tok = ifs_token(&c, &info).await;
    let url = format!("{}/ShipmentHandling.svc/ShipmentSet", info.ifs.base_url);
    assert_eq!(
        c.get(&url).bearer_auth(&tok).send().await.unwrap().status(),
        200
    );
    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        c.get(&url)
            .bearer_auth("bogus")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    sims.clock().advance(Duration::from_secs(181));
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (_, v) = json_of(r).await;
    assert!(v["error"]["code"].is_string());
}

#[tokio::test]
async fn filter_enum_and_datetime_with_paging_and_count() {
    let mut opts = SimOptions::default().shipments(120);
    opts.page_cap = 25;
    let (sims, info, c) = start(opts).await;
    let tok = ifs_token(&c, &info).await;
    let base = format!("{}/ShipmentHandling.svc/ShipmentSet", info.ifs.base_url);
    let r = c
        .get(&base)
        .bearer_auth(&tok)
        .query(&[
            ("$filter", COMPLETED),
            ("$count", "true"),
            ("$orderby", "LastActivityDate,ShipmentId"),
        ])
        .send()
        .await
        .unwrap();
    let (st, mut page) = json_of(r).await;
    assert_eq!(st, 200);
    assert_eq!(page["@odata.count"], 120);
    assert!(
        page["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#ShipmentSet")
    );
    let mut all: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let vals = page["value"].as_array().unwrap().clone();
        assert!(vals.len() <= 25);
        for v in &vals {
            assert!(v["@odata.etag"].as_str().unwrap().starts_with("W/\""));
            assert_eq!(v["Objstate"], "Completed");
        }
        all.extend(vals);
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                let (st, p) = json_of(c.get(next).bearer_auth(&tok).send().await.unwrap()).await;
                assert_eq!(st, 200);
                page = p;
            }
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(all.len(), 120);
    let ts: Vec<&str> = all
        .iter()
        .map(|v| v["LastActivityDate"].as_str().unwrap())
        .collect();
    assert!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "ordered by LastActivityDate"
    );
    // Several shipments share one modification second (cursor tests depend on it).
    assert!(ts.windows(2).any(|w| w[0] == w[1]));
    // A cursor filter on the DateTimeOffset field.
    let cursor = ts[59];
    let filter = format!(
        "{COMPLETED} and (LastActivityDate gt {cursor} or (LastActivityDate eq {cursor} and ShipmentId gt 0))"
    );
    let (st, v) = json_of(
        c.get(&base)
            .bearer_auth(&tok)
            .query(&[
                ("$filter", filter.as_str()),
                ("$count", "true"),
                ("$top", "0"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    let expected = ts.iter().filter(|t| **t >= cursor).count();
    assert_eq!(v["@odata.count"], expected);
    assert_eq!(v["value"].as_array().unwrap().len(), 0);
    // Non-ready shipments exist and are excluded by the enum filter.
    assert!(sims.ifs().snapshot().shipments.len() > 120);
    assert_eq!(sims.ifs().ready_shipment_ids().len(), 120);
}

#[tokio::test]
async fn top_skip_select_and_query_errors() {
    let (_sims, info, c) = start(SimOptions::default().shipments(30)).await;
    let tok = ifs_token(&c, &info).await;
    let base = format!("{}/ShipmentHandling.svc/ShipmentSet", info.ifs.base_url);
    let get = |q: Vec<(&'static str, String)>| {
        let c = c.clone();
        let tok = tok.clone();
        let base = base.clone();
        async move {
            json_of(
                c.get(&base)
                    .bearer_auth(&tok)
                    .query(&q)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (st, v) = get(vec![
        ("$top", "5".into()),
        ("$skip", "3".into()),
        ("$orderby", "ShipmentId desc".into()),
        ("$select", "ShipmentId,ReceiverCountry".into()),
    ])
    .await;
    assert_eq!(st, 200);
    let vals = v["value"].as_array().unwrap();
    assert_eq!(vals.len(), 5);
    assert!(vals[0]["ShipmentId"].as_i64().unwrap() > vals[1]["ShipmentId"].as_i64().unwrap());
    assert_eq!(
        vals[0].as_object().unwrap().len(),
        3,
        "etag + 2 selected fields: {}",
        vals[0]
    );
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .contains("ShipmentSet(ShipmentId,ReceiverCountry)")
    );
    assert!(v.get("@odata.nextLink").is_none());
    let (st, v) = get(vec![(
        "$filter",
        "ReceiverCountry eq 'US' and not (ShipViaCode eq 'UPSGND') and OperativeGrossWeight ge 1.5"
            .into(),
    )])
    .await;
    assert_eq!(st, 200);
    for s in v["value"].as_array().unwrap() {
        assert_eq!(s["ReceiverCountry"], "US");
        assert_ne!(s["ShipViaCode"], "UPSGND");
    }
    let (st, v) = get(vec![(
        "$filter",
        "startswith(OrderNo,'C10000') and contains(tolower(ReceiverAddressName),'a')".into(),
    )])
    .await;
    assert_eq!(st, 200);
    assert!(!v["value"].as_array().unwrap().is_empty());
    for (q, val) in [
        ("$expand", "Lines"),
        ("$search", "x"),
        ("$format", "xml"),
        ("$filter", "Objstate eq 'Completed'"),
        ("$filter", "NoSuchField eq 1"),
        ("$filter", "(ShipmentId eq 1"),
        ("$filter", "LastActivityDate gt 2024-13-01T00:00:00Z"),
        ("$orderby", "ShipmentId sideways"),
        ("$top", "-1"),
        ("$select", "Nope"),
    ] {
        let (st, v) = get(vec![(q, val.to_string())]).await;
        assert_eq!(st, 400, "{q}={val}");
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{v}"
        );
    }
    let (st, _) = json_of(
        c.get(format!(
            "{}/ShipmentHandling.svc/NoSuchSet",
            info.ifs.base_url
        ))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = json_of(
        c.delete(format!("{base}(ShipmentId=10001)"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 405);
}

#[tokio::test]
async fn single_get_etag_and_patch_preconditions() {
    let (sims, info, c) = start(SimOptions::default().shipments(5)).await;
    let tok = ifs_token(&c, &info).await;
    let url = format!(
        "{}/ShipmentHandling.svc/ShipmentSet(ShipmentId=10002)",
        info.ifs.base_url
    );
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let (st, v) = json_of(r).await;
    assert_eq!(st, 200);
    assert_eq!(v["@odata.etag"], etag.as_str());
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#ShipmentSet/$entity")
    );
    let before = v["LastActivityDate"].as_str().unwrap().to_string();
    let body = json!({"ProNo": "1Z9W1A470312345678", "Cf$_TrackingStatus": "Label Created"});
    // No If-Match → 428.
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 428);
    // Wrong ETag → 412.
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", "W/\"bogus\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    // Right ETag → 204 with a new ETag.
    sims.clock().advance(Duration::from_secs(5));
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", &etag)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let new_etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    // Old ETag is now stale.
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", &etag)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    // `*` is accepted; return=representation gives the entity.
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", "*")
        .header("Prefer", "return=representation")
        .json(&json!({"AirwayBillNo": "AWB1"}))
        .send()
        .await
        .unwrap();
    let (st, v) = json_of(r).await;
    assert_eq!(st, 200);
    assert_eq!(v["AirwayBillNo"], "AWB1");
    assert_eq!(v["ProNo"], "1Z9W1A470312345678");
    assert_ne!(v["@odata.etag"], new_etag.as_str());
    assert!(v["LastActivityDate"].as_str().unwrap() > before.as_str());
    // Bad writes.
    for bad in [
        json!({"Objstate": "Closed"}),
        json!({"NoSuchField": 1}),
        json!({"NetWeight": "heavy"}),
        json!({"Cf$_DeliveredDate": "yesterday"}),
    ] {
        let r = c
            .patch(&url)
            .bearer_auth(&tok)
            .header("If-Match", "*")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", "*")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (st, v) = json_of(r).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["code"], "ODP_DESERIALIZATION_ERROR");
    let r = c
        .get(format!(
            "{}/ShipmentHandling.svc/ShipmentSet(ShipmentId=1)",
            info.ifs.base_url
        ))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let writes = sims.ifs().snapshot().writes;
    assert_eq!(writes.iter().filter(|w| w.by == "api").count(), 2);
}

#[tokio::test]
async fn concurrent_edit_fault_makes_patch_fail_once_then_succeed() {
    let (sims, info, c) = start(SimOptions::default().shipments(5)).await;
    let tok = ifs_token(&c, &info).await;
    let url = format!(
        "{}/ShipmentHandling.svc/ShipmentSet(ShipmentId=10003)",
        info.ifs.base_url
    );
    // Another user saves right after our read.
    sims.install_fault(FaultSpec::next(
        "ifs.shipment.get",
        FaultKind::ConcurrentEdit,
        1,
    ))
    .unwrap();
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", &etag)
        .json(&json!({"ProNo": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", &etag)
        .json(&json!({"ProNo": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let s = sims.ifs().shipment(10003).unwrap();
    assert_eq!(s["ProNo"], "X");
    assert!(
        s["Cf$_Remark"].as_str().unwrap().contains("another user"),
        "the other user's change stays"
    );
    // The PATCH flavour: the edit lands between the read and the write.
    sims.install_fault(FaultSpec::next(
        "ifs.shipment.patch",
        FaultKind::ConcurrentEdit,
        1,
    ))
    .unwrap();
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = c
        .patch(&url)
        .bearer_auth(&tok)
        .header("If-Match", &etag)
        .json(&json!({"AirwayBillNo": "Y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let by: Vec<String> = sims
        .ifs()
        .snapshot()
        .writes
        .iter()
        .map(|w| w.by.clone())
        .collect();
    assert_eq!(by.iter().filter(|b| *b == "other-user").count(), 2);
}

#[tokio::test]
async fn orders_charges_lines_and_handling_units() {
    let (sims, info, c) = start(SimOptions::default().shipments(12)).await;
    let tok = ifs_token(&c, &info).await;
    let ship = sims.ifs().shipment(10001).unwrap();
    let order = ship["OrderNo"].as_str().unwrap().to_string();
    assert!(order.starts_with('C') && order.len() == 11);
    let co = format!(
        "{}/CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='{order}')",
        info.ifs.base_url
    );
    let r = c.get(&co).bearer_auth(&tok).send().await.unwrap();
    assert!(r.headers().contains_key("etag"));
    let (st, v) = json_of(r).await;
    assert_eq!(st, 200);
    assert_eq!(v["OrderNo"], order.as_str());
    let charges = format!("{co}/CustomerOrderChargeArray");
    let charge = json!({"ChargeType": "FREIGHT", "ChargeAmount": 23.45, "ChargeCost": 17.35, "ChargedQty": 1, "SalesUnitMeas": "EA", "ShipmentId": 10001, "Cf$_ExternalRef": "UPS:1Z9W1A470300000011", "CodeB": "4100"});
    let r = c
        .post(&charges)
        .bearer_auth(&tok)
        .json(&charge)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("location"));
    let (st, v) = json_of(r).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["SequenceNo"], 1);
    assert_eq!(v["ChargeAmount"], 23.45);
    assert!(v["@odata.etag"].is_string());
    let (st, v) = json_of(
        c.get(&charges)
            .bearer_auth(&tok)
            .query(&[("$filter", "Cf$_ExternalRef eq 'UPS:1Z9W1A470300000011'")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let (_, v) = json_of(
        c.get(&charges)
            .bearer_auth(&tok)
            .query(&[("$filter", "Cf$_ExternalRef eq 'other'")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 0);
    // Missing mandatory field, unknown field, wrong shipment.
    for bad in [
        json!({"ChargeAmount": 1, "ChargedQty": 1}),
        json!({"ChargeType": "F", "ChargeAmount": 1, "ChargedQty": 1, "Bogus": 1}),
        json!({"ChargeType": "F", "ChargeAmount": 1, "ChargedQty": 1, "ShipmentId": 99}),
    ] {
        assert_eq!(
            c.post(&charges)
                .bearer_auth(&tok)
                .json(&bad)
                .send()
                .await
                .unwrap()
                .status(),
            400,
            "{bad}"
        );
    }
    let one = format!("{charges}(OrderNo='{order}',SequenceNo=1)");
    assert_eq!(
        c.get(&one).bearer_auth(&tok).send().await.unwrap().status(),
        200
    );
    assert_eq!(sims.ifs().charges(&order).len(), 1);
    assert_eq!(
        sims.ifs()
            .snapshot()
            .orders
            .iter()
            .find(|o| o["OrderNo"] == order.as_str())
            .unwrap()["ChargesExist"],
        true
    );
    // Lines and handling units by shipment.
    let lines = format!("{}/ShipmentHandling.svc/ShipmentLineSet", info.ifs.base_url);
    let (st, v) = json_of(
        c.get(&lines)
            .bearer_auth(&tok)
            .query(&[("$filter", "ShipmentId eq 10001")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    let ls = v["value"].as_array().unwrap();
    assert!(!ls.is_empty());
    assert!(ls.iter().all(|l| l["SourceRef1"] == order.as_str()));
    let hus = format!("{}/ShipmentHandling.svc/HandlingUnitSet", info.ifs.base_url);
    let (_, v) = json_of(
        c.get(&hus)
            .bearer_auth(&tok)
            .query(&[("$filter", "ShipmentId eq 10001")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let hs = v["value"].as_array().unwrap();
    assert_eq!(hs.len() as i64, ship["NoOfHandlingUnits"].as_i64().unwrap());
    for h in hs {
        assert!(h["ManualGrossWeight"].as_f64().unwrap() > 0.0);
        assert!(["KGS", "LBS"].contains(&h["UomForWeight"].as_str().unwrap()));
        assert!(["CM", "IN"].contains(&h["UomForLength"].as_str().unwrap()));
    }
    let id = hs[0]["HandlingUnitId"].as_i64().unwrap();
    assert_eq!(
        c.get(format!("{hus}(HandlingUnitId={id})"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{lines}(ShipmentId=10001,ShipmentLineNo=1)"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (st, _) = json_of(
        c.get(format!(
            "{}/CustomerOrderHandling.svc/CustomerOrderSet",
            info.ifs.base_url
        ))
        .bearer_auth(&tok)
        .query(&[(
            "$filter",
            "Objstate eq IfsApp.CustomerOrderHandling.CustomerOrderState'Reserved'",
        )])
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn seed_data_is_deterministic_and_varied() {
    let (a, _, _) = start(SimOptions::default().shipments(60)).await;
    let (b, _, _) = start(SimOptions::default().shipments(60)).await;
    let strip = |mut v: Vec<simulators::Entity>| {
        for e in &mut v {
            e.remove("@odata.etag");
        }
        v
    };
    let sa = strip(a.ifs().snapshot().shipments);
    let sb = strip(b.ifs().snapshot().shipments);
    let fields = [
        "ShipmentId",
        "ReceiverCountry",
        "ReceiverZipCode",
        "ShipViaCode",
        "OrderNo",
        "OperativeGrossWeight",
    ];
    for (x, y) in sa.iter().zip(&sb) {
        for f in fields {
            assert_eq!(x[f], y[f]);
        }
    }
    let countries: std::collections::BTreeSet<&str> = sa
        .iter()
        .map(|s| s["ReceiverCountry"].as_str().unwrap())
        .collect();
    assert!(countries.len() >= 5, "{countries:?}");
    let vias: std::collections::BTreeSet<&str> = sa
        .iter()
        .map(|s| s["ShipViaCode"].as_str().unwrap())
        .collect();
    assert!(vias.contains("UPSGND") && vias.contains("UPSSTD"));
    let units: std::collections::BTreeSet<&str> = sa
        .iter()
        .map(|s| s["UomForWeight"].as_str().unwrap())
        .collect();
    assert_eq!(units.len(), 2);
    let (other, _, _) = start(SimOptions::default().shipments(60).seed(7)).await;
    let so = strip(other.ifs().snapshot().shipments);
    assert!(
        so.iter()
            .zip(&sa)
            .any(|(x, y)| x["ReceiverZipCode"] != y["ReceiverZipCode"])
    );
}

#[tokio::test]
async fn faults_429_5xx_malformed_drop_delay() {
    let (sims, info, c) = start(SimOptions::default().shipments(3)).await;
    let tok = ifs_token(&c, &info).await;
    let url = format!("{}/ShipmentHandling.svc/ShipmentSet", info.ifs.base_url);
    sims.install_fault(
        FaultSpec::next("ifs.shipment.list", FaultKind::TooManyRequests, 1).with_retry_after(7),
    )
    .unwrap();
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    sims.install_fault(FaultSpec::next(
        "ifs.shipment.list",
        FaultKind::TooManyRequests,
        1,
    ))
    .unwrap();
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(!r.headers().contains_key("retry-after"));
    for (kind, code) in [
        (FaultKind::InternalError, 500),
        (FaultKind::Unavailable, 503),
    ] {
        sims.install_fault(FaultSpec::next("ifs.*", kind, 1))
            .unwrap();
        let (st, v) = json_of(c.get(&url).bearer_auth(&tok).send().await.unwrap()).await;
        assert_eq!(st, code);
        assert!(v["error"]["code"].is_string());
    }
    sims.install_fault(
        FaultSpec::next("ifs.shipment.list", FaultKind::Unavailable, 1).with_retry_after(9),
    )
    .unwrap();
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "9");
    assert_eq!(
        FaultSpec::parse_cli("ups.*=503:20").unwrap().retry_after,
        Some(20)
    );
    sims.install_fault(FaultSpec::next(
        "ifs.shipment.list",
        FaultKind::Malformed,
        1,
    ))
    .unwrap();
    let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());
    sims.install_fault(FaultSpec::next("ifs.token", FaultKind::Drop, 1))
        .unwrap();
    assert!(
        c.post(&info.ifs.token_url)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .is_err()
    );
    sims.install_fault(
        FaultSpec::next("ifs.shipment.list", FaultKind::Delay, 1).with_delay_ms(600),
    )
    .unwrap();
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let e = quick.get(&url).bearer_auth(&tok).send().await.unwrap_err();
    assert!(e.is_timeout());
    // Back to normal, and the log shows what happened.
    assert_eq!(
        c.get(&url).bearer_auth(&tok).send().await.unwrap().status(),
        200
    );
    let log = sims.ifs().requests(Some("ifs.shipment.list"));
    let faults: Vec<Option<String>> = log.iter().map(|r| r.fault.clone()).collect();
    assert!(
        faults.contains(&Some("429".into()))
            && faults.contains(&Some("malformed".into()))
            && faults.contains(&Some("delay".into()))
    );
    assert!(sims.faults().is_empty());
    // Rate-triggered faults are deterministic and roughly proportional.
    sims.install_fault(FaultSpec::rate(
        "ifs.shipment.list",
        FaultKind::Unavailable,
        0.5,
    ))
    .unwrap();
    let mut hits = 0;
    for _ in 0..40 {
        if c.get(&url).bearer_auth(&tok).send().await.unwrap().status() == 503 {
            hits += 1;
        }
    }
    assert!((8..=32).contains(&hits), "{hits}");
    assert_eq!(sims.clear_faults(), 1);
}

#[tokio::test]
async fn hundreds_of_concurrent_requests() {
    let (_sims, info, c) = start(SimOptions::default().shipments(50)).await;
    let tok = ifs_token(&c, &info).await;
    let url = format!("{}/ShipmentHandling.svc/ShipmentSet", info.ifs.base_url);
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (c, tok, url) = (c.clone(), tok.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let f = format!("ShipmentId ge {}", 10001 + i % 50);
            c.get(&url)
                .bearer_auth(&tok)
                .query(&[("$filter", f.as_str()), ("$top", "3")])
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
}
