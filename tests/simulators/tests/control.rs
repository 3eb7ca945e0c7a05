//! The control / inspection API, the start-up JSON line and the CLI arguments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use clap::Parser;
use common::*;
use serde_json::{Value, json};
use simulators::{SimInfo, SimOptions, SimulateArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: SimulateArgs,
}

#[test]
fn cli_arguments_map_to_options() {
    let cli = Cli::parse_from([
        "simulate",
        "--ifs-listen",
        "127.0.0.1:0",
        "--ups-listen",
        "127.0.0.1:0",
        "--shipments",
        "7",
        "--ifs-token-lifetime",
        "180",
        "--ups-token-quota",
        "9",
        "--fault",
        "ups.ship=429:30@next=2",
        "--fault",
        "ifs.token=delay:100@rate=0.5",
    ]);
    let o = cli.args.to_options().unwrap();
    assert_eq!(o.shipments, 7);
    assert_eq!(o.ifs_token_lifetime.as_secs(), 180);
    assert_eq!(o.ups_daily_token_quota, 9);
    assert_eq!(o.faults.len(), 2);
    let bad = Cli::parse_from(["simulate", "--fault", "nonsense"]);
    assert!(bad.args.to_options().is_err());
}

#[tokio::test]
async fn info_json_has_exactly_the_documented_shape() {
    let (sims, info, c) = start(SimOptions::default().shipments(2)).await;
    let v = serde_json::to_value(sims.info()).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&v), ["ifs", "ups", "control_url"]);
    assert_eq!(
        keys(&v["ifs"]),
        [
            "base_url",
            "token_url",
            "realm",
            "client_id",
            "client_secret"
        ]
    );
    assert_eq!(
        keys(&v["ups"]),
        [
            "base_url",
            "token_url",
            "client_id",
            "client_secret",
            "account_number"
        ]
    );
    assert!(
        info.ifs
            .base_url
            .ends_with("/main/ifsapplications/projection/v1")
    );
    assert!(info.ups.base_url.ends_with("/api"));
    let back: SimInfo = serde_json::from_value(v).unwrap();
    assert_eq!(back, info);
    let (st, got) = json_of(
        c.get(format!("{}/info", info.control_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(serde_json::from_value::<SimInfo>(got).unwrap(), info);
}

#[tokio::test]
async fn control_routes() {
    let (sims, info, c) = start(SimOptions::default().shipments(4)).await;
    let ctl = |p: &str| format!("{}{p}", info.control_url);
    assert_eq!(
        json_of(c.get(ctl("/health")).send().await.unwrap()).await.1["ok"],
        true
    );
    // Clock.
    let (_, before) = json_of(c.get(ctl("/clock")).send().await.unwrap()).await;
    let (st, after) = json_of(
        c.post(ctl("/clock/advance"))
            .json(&json!({"hours": 1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert!(after["now"].as_str().unwrap() > before["now"].as_str().unwrap());
    assert_eq!(
        c.post(ctl("/clock/advance"))
            .json(&json!({"hours": -1}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.post(ctl("/clock/advance"))
            .body("nope")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let (st, v) = json_of(
        c.put(ctl("/clock/speed"))
            .json(&json!({"speed": 60.0}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["speed"], 60.0);
    assert_eq!(
        c.put(ctl("/clock/speed"))
            .json(&json!({"speed": 0}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    sims.clock().set_speed(1.0).unwrap();
    // Faults.
    let (st, v) = json_of(
        c.post(ctl("/faults"))
            .json(&json!({"route": "ifs.shipment.get", "kind": "concurrent-edit", "next": 1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201);
    let id = v["ids"][0].as_u64().unwrap();
    let (_, list) = json_of(c.get(ctl("/faults")).send().await.unwrap()).await;
    assert_eq!(list[0]["kind"], "concurrent-edit");
    assert_eq!(
        c.delete(ctl(&format!("/faults/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.delete(ctl(&format!("/faults/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // IFS inspection and operator edit.
    let tok = ifs_token(&c, &info).await;
    let _ = c
        .get(format!(
            "{}/ShipmentHandling.svc/ShipmentSet",
            info.ifs.base_url
        ))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    let (_, st_) = json_of(c.get(ctl("/ifs/state")).send().await.unwrap()).await;
    assert_eq!(st_["tokens_issued"], 1);
    assert_eq!(st_["requests_by_route"]["ifs.shipment.list"], 1);
    let (st, s) = json_of(c.get(ctl("/ifs/shipments/10001")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    let etag = s["@odata.etag"].clone();
    let (st, s2) = json_of(
        c.patch(ctl("/ifs/shipments/10001"))
            .json(&json!({"ReceiverAddress2": "Dock 4"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_ne!(s2["@odata.etag"], etag);
    assert_eq!(
        c.patch(ctl("/ifs/shipments/10001"))
            .json(&json!({"ShipmentId": 5}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.patch(ctl("/ifs/shipments/1"))
            .json(&json!({"ProNo": "x"}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(ctl("/ifs/shipments/abc"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let (_, reqs) = json_of(
        c.get(ctl("/ifs/requests?route=ifs.token"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reqs.as_array().unwrap().len(), 1);
    assert!(
        reqs[0]["body"]
            .as_str()
            .unwrap()
            .contains("client_secret=***")
    );
    let (_, sites) = json_of(c.get(ctl("/ifs/sites")).send().await.unwrap()).await;
    assert_eq!(sites.as_array().unwrap().len(), 2);
    let order = s["OrderNo"].as_str().unwrap();
    assert_eq!(
        json_of(
            c.get(ctl(&format!("/ifs/orders/{order}/charges")))
                .send()
                .await
                .unwrap()
        )
        .await
        .1,
        json!([])
    );
    // UPS inspection.
    let _ = ups_token(&c, &info).await;
    for p in [
        "/ups/state",
        "/ups/shipments",
        "/ups/references",
        "/ups/subscriptions",
        "/ups/tokens",
        "/ups/webhook-deliveries",
        "/ups/requests",
    ] {
        assert_eq!(c.get(ctl(p)).send().await.unwrap().status(), 200, "{p}");
    }
    let (_, t) = json_of(c.get(ctl("/ups/tokens")).send().await.unwrap()).await;
    assert_eq!(t["total"], 1);
    assert_eq!(
        c.post(ctl("/ups/webhooks/flush"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.delete(ctl("/ups/webhook")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        c.delete(ctl("/requests")).send().await.unwrap().status(),
        200
    );
    assert!(sims.ifs().requests(None).is_empty());
    assert_eq!(c.get(ctl("/nope")).send().await.unwrap().status(), 404);
    sims.shutdown().await;
    assert!(c.get(ctl("/health")).send().await.is_err());
}
