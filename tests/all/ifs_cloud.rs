//! The IFS Cloud connector (`ifs-cloud.wasm`) in the host against the IFS simulator: polling
//! under edits, If-Match write-back under a concurrent edit, idempotent freight, per-record
//! mapping errors, and how IFS's answers surface as contract errors.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers: a failed step must fail the test loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use host::runtime::InvokeError;
use host::runtime::bindings::types::{
    CarrierShipment, Error as WitError, FreightCharge, FreightOutcome, Money, ReadyItem, RetryInfo,
    TrackingEvent, TrackingStatus, VendorError,
};
use integration_tests::sim::{FaultKind, FaultSpec, IFS_CONNECTION, SimHost, SimOptions};
use serde_json::{Value, json};

async fn sim(shipments: usize, page_cap: usize) -> SimHost {
    SimHost::start(SimOptions {
        page_cap,
        ..SimOptions::default().shipments(shipments)
    })
    .await
}

fn plugin_error(result: Result<impl std::fmt::Debug, InvokeError>) -> WitError {
    match result {
        Err(InvokeError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error value, got {other:?}"),
    }
}

fn edit(h: &SimHost, id: i64, changes: Value) {
    let Value::Object(map) = changes else {
        panic!("changes must be an object")
    };
    h.sims
        .ifs()
        .edit_shipment(id, &map)
        .unwrap_or_else(|e| panic!("editing shipment {id}: {e}"));
}

fn field(h: &SimHost, id: i64, name: &str) -> Value {
    h.sims
        .ifs()
        .shipment(id)
        .unwrap_or_else(|| panic!("shipment {id}"))
        .get(name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The etag IFS holds now for each ready shipment.
fn current_versions(h: &SimHost) -> BTreeMap<String, String> {
    h.sims
        .ifs()
        .ready_shipment_ids()
        .into_iter()
        .map(|id| {
            let etag = field(h, id, "@odata.etag");
            (id.to_string(), etag.as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// One poll as a flow drives it: page after page until `next-page` is none, calling `between`
/// after each page (with the page number and the ids read so far). Returns the items, the cursor
/// to commit and the number of pages.
async fn poll(
    h: &SimHost,
    cursor: Option<String>,
    mut between: impl FnMut(usize, &BTreeSet<String>),
) -> (Vec<ReadyItem>, String, usize) {
    let erp = h.erp();
    let mut items = Vec::new();
    let mut read = BTreeSet::new();
    let mut page_token = None;
    let mut pages = 0;
    loop {
        let page = erp
            .list_ready_shipments(cursor.clone(), page_token)
            .await
            .unwrap_or_else(|e| panic!("page {}: {e}", pages + 1));
        pages += 1;
        assert!(pages < 50, "the poll does not end");
        read.extend(page.items.iter().map(|i| i.erp_id.clone()));
        items.extend(page.items);
        between(pages, &read);
        match page.next_page {
            Some(next) => page_token = Some(next),
            None => return (items, page.cursor, pages),
        }
    }
}

/// Polls page by page with edits between pages, then polls again from the committed cursor:
/// every ready shipment is delivered in its latest version, no `(erp-id, version)` twice, and
/// a third poll finds nothing.
async fn every_record_exactly_once(paging: &str) {
    let h = sim(20, 5).await;
    h.bind_ifs(integration_tests::sim::TENANT, &[("poll.paging", paging)]);
    let ready = h.sims.ifs().ready_shipment_ids();
    assert_eq!(ready.len(), 20);
    // Seeded records share their timestamp in threes.
    let stamps: BTreeSet<String> = ready
        .iter()
        .map(|id| field(&h, *id, "LastActivityDate").to_string())
        .collect();
    assert!(stamps.len() < ready.len(), "no shared timestamps seeded");

    let mut read_then_edited = Vec::new();
    let (first, cursor, pages) = poll(&h, None, |page, read| {
        let unread: Vec<i64> = ready
            .iter()
            .copied()
            .filter(|id| !read.contains(&id.to_string()))
            .collect();
        match page {
            1 => {
                // A record already read changes, and three unread ones change in one second
                // (they now share a timestamp, after everything else).
                let done: i64 = read.iter().next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let mut ids = vec![done];
                ids.extend(unread.iter().rev().take(3));
                for id in &ids {
                    edit(
                        &h,
                        *id,
                        json!({"Cf$_Remark": format!("edit after page 1 ({id})")}),
                    );
                }
                read_then_edited.push(done);
            }
            2 => {
                // The first unread record (on the next page boundary) changes.
                if let Some(id) = unread.first() {
                    edit(&h, *id, json!({"ReceiverContact": "Changed while paging"}));
                }
            }
            _ => {}
        }
    })
    .await;
    assert!(pages >= 3, "{pages} pages with a page cap of 5");
    // A record read in this poll changes once more before the next poll.
    let last = ready[ready.len() / 2];
    edit(&h, last, json!({"ReceiverPhone": "4045550199"}));
    read_then_edited.push(last);
    let (second, cursor, _) = poll(&h, Some(cursor), |_, _| {}).await;
    let (third, _, _) = poll(&h, Some(cursor), |_, _| {}).await;
    assert!(third.is_empty(), "nothing changed, yet: {third:?}");

    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in first.iter().chain(&second) {
        let shipment = item
            .shipment
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e:?}", item.erp_id));
        assert_eq!(shipment.erp_id, item.erp_id);
        assert!(
            versions
                .entry(item.erp_id.clone())
                .or_default()
                .insert(shipment.version.clone()),
            "({}, {}) delivered twice",
            item.erp_id,
            shipment.version
        );
    }
    let delivered: BTreeSet<&String> = versions.keys().collect();
    let expected: BTreeSet<String> = ready.iter().map(|id| id.to_string()).collect();
    assert_eq!(delivered, expected.iter().collect());
    for (id, etag) in current_versions(&h) {
        assert!(
            versions[&id].contains(&etag),
            "shipment {id}: its current version {etag} was never delivered ({:?})",
            versions[&id]
        );
    }
    for id in &read_then_edited {
        assert_eq!(
            versions[&id.to_string()].len(),
            2,
            "shipment {id} was read, then changed: both versions are delivered"
        );
    }
}

#[tokio::test]
async fn keyset_polling_under_edits_returns_every_record_exactly_once() {
    every_record_exactly_once("keyset").await;
}

#[tokio::test]
async fn next_link_polling_under_edits_returns_every_record_exactly_once() {
    every_record_exactly_once("next-link").await;
}

#[tokio::test]
async fn skip_polling_under_edits_returns_every_record_exactly_once() {
    every_record_exactly_once("skip").await;
}

fn carrier_shipment(id: &str, tracking: &[&str]) -> CarrierShipment {
    CarrierShipment {
        shipment_id: id.into(),
        tracking_numbers: tracking.iter().map(|t| t.to_string()).collect(),
        service: "03".into(),
        charges: Money {
            amount: "23.45".into(),
            currency: "USD".into(),
        },
        negotiated: true,
        reference: "10001".into(),
        voided: false,
        created_at: None,
    }
}

#[tokio::test]
async fn a_concurrent_edit_is_re_read_and_the_other_users_change_is_kept() {
    let h = sim(3, 50).await;
    h.fault(FaultSpec::next(
        "ifs.shipment.patch",
        FaultKind::ConcurrentEdit,
        1,
    ));
    let cs = carrier_shipment("1Z9W1A470312345678", &["1Z9W1A470312345678"]);
    h.erp().record_carrier_shipment("10001", &cs).await.unwrap();

    assert_eq!(field(&h, 10001, "ProNo"), json!("1Z9W1A470312345678"));
    assert_eq!(
        field(&h, 10001, "Cf$_CarrierShipmentId"),
        json!("1Z9W1A470312345678")
    );
    let remark = field(&h, 10001, "Cf$_Remark");
    assert!(
        remark.as_str().is_some_and(|r| r.contains("another user")),
        "the other user's remark was lost: {remark}"
    );
    let patches = h.sims.ifs().requests(Some("ifs.shipment.patch"));
    let statuses: Vec<u16> = patches.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [412, 204], "{patches:#?}");
    for p in &patches {
        assert!(
            p.headers.contains_key("if-match"),
            "PATCH without If-Match: {p:?}"
        );
        let body = p.body.as_ref().and_then(Value::as_object).unwrap();
        assert!(
            !body.contains_key("Cf$_Remark"),
            "we sent someone else's field: {body:?}"
        );
    }
    assert_ne!(
        patches[0].headers["if-match"], patches[1].headers["if-match"],
        "the retry must carry the re-read ETag"
    );
    assert_eq!(h.sims.ifs().requests(Some("ifs.shipment.get")).len(), 2);

    // Writing the same values again changes nothing and sends no PATCH.
    h.erp().record_carrier_shipment("10001", &cs).await.unwrap();
    assert_eq!(h.sims.ifs().requests(Some("ifs.shipment.patch")).len(), 2);
}

#[tokio::test]
async fn a_record_that_keeps_changing_ends_in_conflict_after_the_configured_attempts() {
    let h = sim(3, 50).await;
    h.fault(FaultSpec {
        next: None,
        ..FaultSpec::next("ifs.shipment.patch", FaultKind::ConcurrentEdit, 1)
    });
    let cs = carrier_shipment("1Z9W1A470312345678", &["1Z9W1A470312345678"]);
    let err = plugin_error(h.erp().record_carrier_shipment("10002", &cs).await);
    assert!(matches!(err, WitError::Conflict(_)), "{err:?}");
    let patches = h.sims.ifs().requests(Some("ifs.shipment.patch"));
    assert_eq!(patches.len(), 3, "writeback.max-attempts defaults to 3");
    assert!(
        patches
            .iter()
            .all(|p| p.status == 412 && p.headers.contains_key("if-match"))
    );
    assert_eq!(field(&h, 10002, "ProNo"), Value::Null);
}

#[tokio::test]
async fn a_replayed_freight_posting_creates_one_charge() {
    let h = sim(3, 50).await;
    let shipment = h.erp().get_shipment("10001").await.unwrap();
    let currency = h
        .sims
        .ifs()
        .snapshot()
        .orders
        .iter()
        .find(|o| o["OrderNo"] == json!(shipment.order_ref))
        .and_then(|o| o["CurrencyCode"].as_str().map(str::to_owned))
        .unwrap();
    let charge = FreightCharge {
        erp_id: shipment.erp_id.clone(),
        order_ref: shipment.order_ref.clone(),
        amount: Money {
            amount: "23.45".into(),
            currency: currency.clone(),
        },
        reference: "UPS:1Z9W1A470312345678".into(),
        cost_center: shipment.cost_center.clone(),
        code_parts: vec![],
    };
    let erp = h.erp();
    assert_eq!(
        erp.record_freight_cost(&charge).await.unwrap(),
        FreightOutcome::Posted
    );
    assert_eq!(
        erp.record_freight_cost(&charge).await.unwrap(),
        FreightOutcome::AlreadyPosted
    );

    let charges = h.sims.ifs().charges(&shipment.order_ref);
    let ours: Vec<_> = charges
        .iter()
        .filter(|c| c["Cf$_ExternalRef"] == json!(charge.reference))
        .collect();
    assert_eq!(ours.len(), 1, "{charges:#?}");
    assert_eq!(ours[0]["ChargeAmount"].as_f64(), Some(23.45));
    assert_eq!(ours[0]["ChargeType"], json!("FREIGHT"));
    assert_eq!(ours[0]["ShipmentId"], json!(10001));
    assert_eq!(ours[0]["CodeB"], json!(shipment.cost_center.unwrap()));
    assert_eq!(h.sims.ifs().requests(Some("ifs.charge.post")).len(), 1);

    // Freight in another currency than the order's is refused before anything is posted.
    let wrong = FreightCharge {
        reference: "UPS:1Z9W1A470399999999".into(),
        amount: Money {
            amount: "10.00".into(),
            currency: if currency == "USD" { "EUR" } else { "USD" }.into(),
        },
        ..charge
    };
    match plugin_error(erp.record_freight_cost(&wrong).await) {
        WitError::InvalidInput(f) => assert_eq!(f.field, "amount.currency"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.sims.ifs().requests(Some("ifs.charge.post")).len(), 1);
}

#[tokio::test]
async fn a_record_without_postal_code_fails_alone_naming_shipment_and_field() {
    let h = sim(6, 50).await;
    edit(&h, 10003, json!({"ReceiverZipCode": null}));
    let page = h.erp().list_ready_shipments(None, None).await.unwrap();
    assert_eq!(page.items.len(), 6);
    for item in &page.items {
        match (&item.erp_id[..], &item.shipment) {
            ("10003", Err(WitError::InvalidInput(f))) => {
                assert_eq!(f.subject, "shipment 10003");
                assert_eq!(f.field, "ReceiverZipCode");
                assert!(item.modified_at > 0);
            }
            ("10003", other) => panic!("{other:?}"),
            (_, Ok(s)) => assert!(!s.ship_to.postal_code.is_empty()),
            (id, Err(e)) => panic!("shipment {id}: {e:?}"),
        }
    }
    match plugin_error(h.erp().get_shipment("10003").await) {
        WitError::InvalidInput(f) => {
            assert_eq!(
                (&f.subject[..], &f.field[..]),
                ("shipment 10003", "ReceiverZipCode")
            )
        }
        other => panic!("{other:?}"),
    }
}

fn event(status: TrackingStatus, code: &str, at_ms: i64, delivered: bool) -> TrackingEvent {
    TrackingEvent {
        tracking_number: "1Z9W1A470312345678".into(),
        status,
        carrier_code: code.into(),
        description: if delivered {
            "Delivered"
        } else {
            "Departed from Facility"
        }
        .into(),
        occurred_at: at_ms,
        location: Some("Atlanta, GA, US".into()),
        delivered_at: delivered.then_some(at_ms),
        received_by: delivered.then(|| "JONES".into()),
    }
}

#[tokio::test]
async fn tracking_status_and_delivery_date_are_written_back() {
    let h = sim(3, 50).await;
    let now = h.sims.clock().now();
    let at_ms = now.timestamp() * 1000;
    let iso = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let erp = h.erp();

    erp.record_tracking(
        "10002",
        &event(TrackingStatus::InTransit, "DP", at_ms - 3_600_000, false),
    )
    .await
    .unwrap();
    assert_eq!(field(&h, 10002, "Cf$_TrackingStatus"), json!("InTransit"));
    assert_eq!(field(&h, 10002, "Cf$_TrackingEventCode"), json!("DP"));
    assert_eq!(
        field(&h, 10002, "Cf$_TrackingLastEvent"),
        json!("Departed from Facility, Atlanta, GA, US")
    );
    assert_eq!(field(&h, 10002, "Cf$_DeliveredDate"), Value::Null);

    erp.record_tracking(
        "10002",
        &event(TrackingStatus::Delivered, "FS", at_ms, true),
    )
    .await
    .unwrap();
    assert_eq!(field(&h, 10002, "Cf$_TrackingStatus"), json!("Delivered"));
    assert_eq!(field(&h, 10002, "Cf$_TrackingEventCode"), json!("FS"));
    assert_eq!(field(&h, 10002, "Cf$_DeliveredDate"), json!(iso));
    assert_eq!(field(&h, 10002, "Cf$_TrackingEventDate"), json!(iso));
    let patches = h.sims.ifs().requests(Some("ifs.shipment.patch"));
    assert_eq!(patches.len(), 2);
    assert!(patches.iter().all(|p| p.headers.contains_key("if-match")));

    // The same event again is a no-op.
    erp.record_tracking(
        "10002",
        &event(TrackingStatus::Delivered, "FS", at_ms, true),
    )
    .await
    .unwrap();
    assert_eq!(h.sims.ifs().requests(Some("ifs.shipment.patch")).len(), 2);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_then_unauthorized() {
    let h = sim(3, 50).await;
    // A revoked token: the host retries once with a fresh one, which works.
    h.credentials.poison(IFS_CONNECTION, "Bearer revoked-token");
    h.erp().get_shipment("10001").await.unwrap();
    let gets = h.sims.ifs().requests(Some("ifs.shipment.get"));
    let statuses: Vec<u16> = gets.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 200]);
    assert_eq!(h.credentials.fetched(IFS_CONNECTION), 1);

    // An expired token (the simulator's clock passes its lifetime): refreshed the same way.
    h.advance(Duration::from_secs(2 * 3600)).await;
    h.erp().get_shipment("10001").await.unwrap();
    assert_eq!(h.credentials.fetched(IFS_CONNECTION), 2);
    assert_eq!(h.sims.ifs().tokens_issued(), 2);

    // A token IFS keeps refusing: one refresh, one retry, then `unauthorized`.
    h.credentials
        .forge(IFS_CONNECTION, Some("Bearer forged-token"));
    let before = h.sims.ifs().requests(Some("ifs.shipment.get")).len();
    let err = plugin_error(h.erp().get_shipment("10001").await);
    assert!(matches!(err, WitError::Unauthorized(_)), "{err:?}");
    let gets = h.sims.ifs().requests(Some("ifs.shipment.get"));
    assert_eq!(gets.len() - before, 2, "one request and one retry");
    assert!(gets[before..].iter().all(|r| r.status == 401));

    // Wrong client credentials: the token endpoint refuses, nothing reaches OData.
    h.credentials.forge(IFS_CONNECTION, None);
    h.credentials
        .set_client_secret(IFS_CONNECTION, "not-the-secret");
    let before = h.sims.ifs().requests(Some("ifs.shipment.get")).len();
    let err = plugin_error(h.erp().get_shipment("10001").await);
    assert!(matches!(err, WitError::Unauthorized(_)), "{err:?}");
    assert_eq!(
        h.sims.ifs().requests(Some("ifs.shipment.get")).len(),
        before
    );
}

#[tokio::test]
async fn ifs_answers_map_to_contract_errors() {
    let h = sim(3, 50).await;
    let erp = h.erp();

    let err = plugin_error(erp.get_shipment("99999").await);
    assert!(matches!(err, WitError::NotFound(_)), "{err:?}");
    let err = plugin_error(
        erp.record_carrier_shipment("99999", &carrier_shipment("1Z1", &["1Z1"]))
            .await,
    );
    assert!(matches!(err, WitError::NotFound(_)), "{err:?}");

    let cases = [
        (FaultKind::TooManyRequests, Some(7), "rate-limited"),
        (FaultKind::TooManyRequests, None, "rate-limited"),
        (FaultKind::Unavailable, Some(9), "unavailable"),
        (FaultKind::Unavailable, None, "unavailable"),
        (FaultKind::InternalError, None, "unavailable"),
    ];
    for (kind, retry_after, expected) in cases {
        let mut spec = FaultSpec::next("ifs.shipment.get", kind, 1);
        spec.retry_after = retry_after;
        h.fault(spec);
        let result = erp.get_shipment("10001").await;
        let retryable = result.as_ref().err().is_some_and(InvokeError::is_retryable);
        let (case, info) = match plugin_error(result) {
            WitError::RateLimited(info) => ("rate-limited", info),
            WitError::Unavailable(info) => ("unavailable", info),
            other => panic!("{kind:?}: {other:?}"),
        };
        assert_eq!(case, expected, "{kind:?}");
        assert!(retryable);
        let RetryInfo { retry_after_ms, .. } = info;
        assert_eq!(
            retry_after_ms,
            retry_after.map(|s| s * 1000),
            "{kind:?} {retry_after:?}"
        );
    }
    // The same on a poll.
    h.fault(
        FaultSpec::next("ifs.shipment.list", FaultKind::TooManyRequests, 1).with_retry_after(3),
    );
    match plugin_error(erp.list_ready_shipments(None, None).await) {
        WitError::RateLimited(info) => assert_eq!(info.retry_after_ms, Some(3000)),
        other => panic!("{other:?}"),
    }

    // An IFS error body keeps its code and message: a tenant whose status field does not exist.
    h.bind_ifs(
        "misconfigured",
        &[("writeback.status-field", "Cf$_NoSuchField")],
    );
    let err = plugin_error(
        h.host
            .runtime
            .erp("misconfigured", integration_tests::sim::IFS)
            .record_tracking(
                "10001",
                &event(TrackingStatus::InTransit, "DP", 1_700_000_000_000, false),
            )
            .await,
    );
    match err {
        WitError::Rejected(VendorError {
            status,
            code,
            message,
        }) => {
            assert_eq!((status, &code[..]), (400, "ODP_VALIDATION_ERROR"));
            assert!(message.contains("Cf$_NoSuchField"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // And an OData query IFS refuses (an enum member it does not have).
    h.bind_ifs("misconfigured", &[("poll.states", "Shipped")]);
    let err = plugin_error(
        h.host
            .runtime
            .erp("misconfigured", integration_tests::sim::IFS)
            .list_ready_shipments(None, None)
            .await,
    );
    assert!(
        matches!(&err, WitError::Rejected(v) if v.status == 400 && v.code.starts_with("ODP_")),
        "{err:?}"
    );
}
