//! The UPS connector (`ups.wasm`) in the host against the UPS simulator: every operation on its
//! happy and error paths, Track Alert batching and renewal, the single-object quirk, and the
//! headers UPS requires on every request.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers: a failed step must fail the test loudly"
)]

use std::collections::BTreeSet;
use std::time::Duration;

use host::clock::Clock;
use host::runtime::InvokeError;
use host::runtime::bindings::types::{
    Address, AddressClassification, AddressVerdict, CarrierShipment, Dimensions, Error as WitError,
    LabelFormat, LengthUnit, Parcel, RateRequest, RetryInfo, ShipmentRequest, TrackingStatus,
    Weight, WeightUnit,
};
use integration_tests::sim::{FaultKind, FaultSpec, SimHost, SimOptions, UPS, UPS_CONNECTION};

async fn sim() -> SimHost {
    SimHost::start(SimOptions::default().shipments(3)).await
}

fn plugin_error(result: Result<impl std::fmt::Debug, InvokeError>) -> WitError {
    match result {
        Err(InvokeError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error value, got {other:?}"),
    }
}

fn us(line: &str, city: &str, state: &str, zip: &str) -> Address {
    Address {
        name: "Hudson Street Outfitters".into(),
        attention: Some("Receiving".into()),
        lines: vec![line.into()],
        city: city.into(),
        state: Some(state.into()),
        postal_code: zip.into(),
        country: "US".into(),
        phone: Some("2125550141".into()),
        email: None,
    }
}

fn new_york() -> Address {
    us("425 Hudson St", "New York", "NY", "10014")
}

/// `n` parcels of 4.2 kg, 40 × 30 × 20 cm (+1 kg each).
fn metric_parcels(n: usize) -> Vec<Parcel> {
    (0..n)
        .map(|i| Parcel {
            id: format!("HU{i}"),
            weight: Weight {
                value: 4.2 + i as f64,
                unit: WeightUnit::Kilograms,
            },
            dimensions: Some(Dimensions {
                length: 40.0,
                width: 30.0,
                height: 20.0,
                unit: LengthUnit::Centimeters,
            }),
            description: Some("Apparel".into()),
        })
        .collect()
}

fn request(reference: &str, parcels: Vec<Parcel>) -> ShipmentRequest {
    ShipmentRequest {
        idempotency_key: format!("{reference}:create"),
        reference: reference.into(),
        order_ref: format!("C{reference}"),
        service: "03".into(),
        ship_to: new_york(),
        parcels,
        label_format: None,
        site: None,
    }
}

async fn create(h: &SimHost, reference: &str, parcels: usize) -> CarrierShipment {
    h.carrier()
        .create_shipment(&request(reference, metric_parcels(parcels)))
        .await
        .unwrap_or_else(|e| panic!("creating {reference}: {e}"))
}

fn ups_requests(h: &SimHost) -> Vec<simulators::RequestRecord> {
    h.sims
        .ups()
        .requests(None)
        .into_iter()
        .filter(|r| r.route != "ups.token")
        .collect()
}

#[tokio::test]
async fn address_validation_valid_ambiguous_none_and_classification() {
    let h = sim().await;
    let carrier = h.carrier();

    let v = carrier.validate_address(&new_york()).await.unwrap();
    let AddressVerdict::Valid(a) = &v.verdict else {
        panic!("{:?}", v.verdict)
    };
    assert!(a.postal_code.starts_with("10014"), "{a:?}");
    assert_eq!(a.country, "US");
    assert_eq!(v.classification, AddressClassification::Commercial);

    let home = us("200 W 15th St APT 4B", "New York", "NY", "10011");
    let v = carrier.validate_address(&home).await.unwrap();
    assert!(
        matches!(v.verdict, AddressVerdict::Valid(_)),
        "{:?}",
        v.verdict
    );
    assert_eq!(v.classification, AddressClassification::Residential);

    // A ZIP that is wrong for the city: the city's ZIPs come back as candidates.
    let v = carrier
        .validate_address(&us("425 Hudson St", "New York", "NY", "10099"))
        .await
        .unwrap();
    match &v.verdict {
        AddressVerdict::Ambiguous(candidates) => {
            assert_eq!(candidates.len(), 3, "{candidates:?}");
            assert!(
                candidates
                    .iter()
                    .all(|c| c.city == "NEW YORK" || c.city == "New York")
            );
        }
        other => panic!("{other:?}"),
    }

    let v = carrier
        .validate_address(&us("835 N Michigan Ave", "Chicgo", "IL", "60699"))
        .await
        .unwrap();
    assert!(
        matches!(v.verdict, AddressVerdict::NoCandidates),
        "{:?}",
        v.verdict
    );

    // Outside XAV's coverage: not sent, valid as given, unclassified.
    let before = ups_requests(&h).len();
    let berlin = Address {
        state: None,
        country: "DE".into(),
        ..us("Friedrichstr. 68", "Berlin", "", "10117")
    };
    let v = carrier.validate_address(&berlin).await.unwrap();
    assert_eq!(v.verdict, AddressVerdict::Valid(berlin));
    assert_eq!(v.classification, AddressClassification::Unknown);
    assert_eq!(ups_requests(&h).len(), before);
    assert_eq!(h.sims.ups().requests(Some("ups.xav")).len(), 4);
}

#[tokio::test]
async fn rate_and_shop_negotiated_and_published() {
    let h = sim().await;
    let rate = RateRequest {
        ship_to: new_york(),
        parcels: metric_parcels(2),
        service: Some("03".into()),
        site: None,
    };
    let rates = h.carrier().rate_shipment(&rate).await.unwrap();
    assert_eq!(rates.len(), 1, "{rates:?}");
    let r = &rates[0];
    assert_eq!(r.service, "03");
    assert!(r.negotiated);
    let total: f64 = r.total.amount.parse().unwrap();
    let published: f64 = r.published_total.amount.parse().unwrap();
    assert!(total > 0.0 && total < published, "{r:?}");
    assert_eq!(r.total.currency, "USD");
    assert_eq!(
        h.sims.ups().requests(Some("ups.rate"))[0].path,
        "/api/rating/v2409/Rate"
    );

    let shop = h
        .carrier()
        .rate_shipment(&RateRequest {
            service: None,
            site: None,
            ..rate.clone()
        })
        .await
        .unwrap();
    let services: BTreeSet<&str> = shop.iter().map(|r| r.service.as_str()).collect();
    assert!(services.len() >= 3 && services.contains("03"), "{shop:?}");
    assert!(shop.iter().all(|r| r.negotiated));
    assert_eq!(
        h.sims.ups().requests(Some("ups.rate"))[1].path,
        "/api/rating/v2409/Shop"
    );

    // Without negotiated rates: the published total.
    h.bind_ups("published", &[("negotiated-rates", "false")]);
    let rates = h
        .host
        .runtime
        .carrier("published", UPS)
        .rate_shipment(&rate)
        .await
        .unwrap();
    assert!(!rates[0].negotiated);
    assert_eq!(rates[0].total, rates[0].published_total);
    assert_eq!(rates[0].published_total, r.published_total);
}

#[tokio::test]
async fn create_shipment_label_find_and_void() {
    let h = sim().await;
    let carrier = h.carrier();
    let mut req = request("10001", metric_parcels(2));
    req.label_format = Some(LabelFormat::Zpl);
    let created = carrier.create_shipment(&req).await.unwrap();
    assert_eq!(created.tracking_numbers.len(), 2);
    assert_eq!(created.shipment_id, created.tracking_numbers[0]);
    assert_eq!(created.reference, "10001");
    assert!(!created.voided);

    // What UPS received: references on every package (US → US), the idempotency key as
    // CustomerContext, and kilograms / centimetres declared as pounds / inches (a US shipper).
    let ups = h.sims.ups();
    let shipments = ups.shipments();
    assert_eq!(shipments.len(), 1);
    let s = &shipments[0];
    assert_eq!(s.shipment_id, created.shipment_id);
    assert_eq!(s.customer_context.as_deref(), Some("10001:create"));
    assert_eq!(s.tracking_numbers, created.tracking_numbers);
    let weights: Vec<(&str, &str)> = s
        .packages
        .iter()
        .map(|p| (p.weight.as_str(), p.weight_unit.as_str()))
        .collect();
    // 4.2 kg = 9.259 lb and 5.2 kg = 11.464 lb, rounded up to 0.1.
    assert_eq!(weights, [("9.3", "LBS"), ("11.5", "LBS")]);
    for p in &s.packages {
        assert_eq!(
            p.dimensions.clone().unwrap(),
            ["16", "12", "8", "IN"].map(String::from),
            "40 × 30 × 20 cm"
        );
        assert!(p.references.contains(&"10001".to_owned()), "{p:?}");
        assert!(p.references.contains(&"C10001".to_owned()), "{p:?}");
    }
    let by_ref = ups.shipments_by_reference();
    assert_eq!(by_ref["10001"].created, 1);

    // The label stored at creation, without asking UPS again.
    let before = ups_requests(&h).len();
    for tn in &created.tracking_numbers {
        let label = carrier.get_label(tn).await.unwrap();
        assert_eq!(label.format, LabelFormat::Zpl);
        assert!(String::from_utf8_lossy(&label.data).contains(tn.as_str()));
    }
    assert_eq!(ups_requests(&h).len(), before, "labels come from storage");

    // Found by reference: from storage, and from UPS alone by a tenant whose storage is empty.
    let found = carrier.find_shipments("10001").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].tracking_numbers, created.tracking_numbers);
    assert_eq!(found[0].charges, created.charges);
    h.bind_ups("amnesiac", &[]);
    let amnesiac = h.host.runtime.carrier("amnesiac", UPS);
    let found = amnesiac.find_shipments("10001").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].shipment_id, created.shipment_id);
    assert_eq!(found[0].tracking_numbers, created.tracking_numbers);
    assert_eq!(found[0].service, "03");
    assert!(
        !h.sims
            .ups()
            .requests(Some("ups.track_reference"))
            .is_empty()
    );
    assert!(
        carrier
            .find_shipments("NO-SUCH-REF")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        amnesiac
            .find_shipments("NO-SUCH-REF")
            .await
            .unwrap()
            .is_empty()
    );

    // A label not in storage (the tenant that never stored it) is recovered from UPS once, in
    // the tenant's default format, then served from storage.
    let label = amnesiac
        .get_label(&created.tracking_numbers[1])
        .await
        .unwrap();
    assert_eq!(label.format, LabelFormat::Gif);
    assert!(label.data.starts_with(b"GIF8"));
    amnesiac
        .get_label(&created.tracking_numbers[1])
        .await
        .unwrap();
    assert_eq!(h.sims.ups().requests(Some("ups.label_recovery")).len(), 1);
    let err = plugin_error(amnesiac.get_label("1Z9W1A470399999997").await);
    assert!(matches!(err, WitError::NotFound(_)), "{err:?}");

    // Void twice, then UPS reports it voided even to a tenant that never stored it.
    let second = create(&h, "10002", 1).await;
    carrier.void_shipment(&second.shipment_id).await.unwrap();
    carrier.void_shipment(&second.shipment_id).await.unwrap();
    amnesiac.void_shipment(&second.shipment_id).await.unwrap();
    let view = h
        .sims
        .ups()
        .shipments()
        .into_iter()
        .find(|s| s.shipment_id == second.shipment_id)
        .unwrap();
    assert!(view.voided);
    assert!(amnesiac.find_shipments("10002").await.unwrap()[0].voided);
    assert!(carrier.find_shipments("10002").await.unwrap()[0].voided);

    // An unknown shipment cannot be voided: UPS's code comes through.
    let err = plugin_error(carrier.void_shipment("1Z9W1A470399999997").await);
    assert!(
        matches!(&err, WitError::Rejected(v) if v.status == 400 && v.code == "190117"),
        "{err:?}"
    );
}

#[tokio::test]
async fn track_poll_and_webhook_bodies() {
    let h = sim().await;
    let created = create(&h, "10001", 2).await;
    // Quantum View records are per shipment: enough shipments for more than one page of 50.
    let mut all_numbers: BTreeSet<String> = created.tracking_numbers.iter().cloned().collect();
    for i in 0..24 {
        all_numbers.extend(create(&h, &format!("Q{i}"), 1).await.tracking_numbers);
    }
    let events = h
        .carrier()
        .track(&created.tracking_numbers[0])
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.status == TrackingStatus::Manifested),
        "{events:?}"
    );
    let err = plugin_error(h.carrier().track("1Z9W1A470399999997").await);
    assert!(matches!(err, WitError::NotFound(_)), "{err:?}");

    // Subscribed, then a day passes: UPS pushes events, whose bodies parse.
    let sub = h
        .carrier()
        .subscribe_tracking(&created.tracking_numbers[..2])
        .await
        .unwrap();
    assert_eq!(sub.subscribed.len(), 2, "{sub:?}");
    h.advance(Duration::from_secs(86_400)).await;
    let later = h
        .carrier()
        .track(&created.tracking_numbers[0])
        .await
        .unwrap();
    assert!(later.len() > events.len(), "{later:?}");
    assert!(
        later
            .windows(2)
            .all(|w| w[0].occurred_at >= w[1].occurred_at),
        "newest first"
    );

    let deliveries = h.sims.ups().webhook_deliveries();
    assert!(!deliveries.is_empty(), "no pushes");
    assert!(h.webhook.hits() > 0);
    for d in &deliveries {
        let body = serde_json::to_vec(&d.body).unwrap();
        let parsed = h.carrier().parse_tracking_webhook(&body).await.unwrap();
        assert_eq!(parsed.len(), 1, "{}", d.body);
        assert_eq!(parsed[0].tracking_number, d.tracking_number);
        assert_eq!(parsed[0].carrier_code, d.activity_code);
    }
    let err = plugin_error(h.carrier().parse_tracking_webhook(b"{\"hello\":1}").await);
    assert!(matches!(err, WitError::InvalidInput(_)), "{err:?}");

    // Quantum View: unread events in pages of 50, continued with the bookmark until drained.
    let mut bookmark = None;
    let mut pages = 0;
    let mut events = Vec::new();
    loop {
        let page = h.carrier().poll_tracking(bookmark.clone()).await.unwrap();
        pages += 1;
        events.extend(page.events);
        bookmark = page.bookmark;
        if bookmark.is_none() || pages > 20 {
            break;
        }
    }
    assert!(pages >= 2, "{pages} pages for {} events", events.len());
    assert!(events.len() > 50, "{} events", events.len());
    let qv = h.sims.ups().requests(Some("ups.quantumview"));
    assert_eq!(qv.len(), pages);
    let sent_bookmark = |r: &simulators::RequestRecord| {
        r.body
            .as_ref()
            .is_some_and(|b| b["QuantumViewRequest"].get("Bookmark").is_some())
    };
    assert!(!sent_bookmark(&qv[0]));
    assert!(qv[1..].iter().all(sent_bookmark), "{qv:#?}");
    assert!(
        events
            .iter()
            .all(|e| all_numbers.contains(&e.tracking_number))
    );
    let polled: BTreeSet<&String> = events.iter().map(|e| &e.tracking_number).collect();
    assert_eq!(
        polled,
        all_numbers.iter().collect(),
        "every package has events"
    );
    for status in [TrackingStatus::Manifested, TrackingStatus::InTransit] {
        assert!(events.iter().any(|e| e.status == status), "no {status:?}");
    }
    // Drained: the next poll is empty.
    let page = h.carrier().poll_tracking(None).await.unwrap();
    assert!(
        page.events.is_empty() && page.bookmark.is_none(),
        "{page:?}"
    );
}

#[tokio::test]
async fn two_hundred_fifty_numbers_subscribe_in_three_batches_and_renew() {
    let h = sim().await;
    // Six real numbers spread over the three batches, the rest well-formed but unknown.
    let real = create(&h, "10001", 6).await.tracking_numbers;
    let mut numbers: Vec<String> = (0..244).map(|i| format!("1Z9W1A4703{i:08}")).collect();
    for (slot, tn) in [0, 1, 100, 101, 200, 201].into_iter().zip(&real) {
        numbers.insert(slot, tn.clone());
    }
    assert_eq!(numbers.len(), 250);
    let start = h.host.clock.now_ms();
    let sub = h.carrier().subscribe_tracking(&numbers).await.unwrap();

    let requests = h.sims.ups().requests(Some("ups.subscription"));
    assert_eq!(requests.len(), 3);
    for r in &requests {
        let list = r.body.as_ref().unwrap()["trackingNumberList"]
            .as_array()
            .unwrap();
        assert!(list.len() <= 100, "{} numbers in one request", list.len());
        assert_eq!(r.status, 200);
    }
    let subscribed: BTreeSet<&String> = sub.subscribed.iter().map(|(tn, _)| tn).collect();
    assert_eq!(subscribed, real.iter().collect());
    assert_eq!(sub.refused.len(), 244);
    let fourteen_days = 14 * 86_400_000;
    for (_, expires) in &sub.subscribed {
        assert!(
            (expires - start - fourteen_days).abs() < 60_000,
            "{expires}"
        );
    }
    let expiry = |h: &SimHost| {
        h.sims
            .ups()
            .subscriptions()
            .into_iter()
            .filter(|s| real.contains(&s.tracking_number))
            .map(|s| s.expires_at)
            .collect::<Vec<_>>()
    };
    let first = expiry(&h);
    assert_eq!(first.len(), 6);

    // 13 days later, before the subscriptions lapse, subscribing again renews them.
    h.advance(Duration::from_secs(13 * 86_400)).await;
    let again = h.carrier().subscribe_tracking(&real).await.unwrap();
    assert_eq!(again.subscribed.len(), 6, "{again:?}");
    let renewed = expiry(&h);
    for (before, after) in first.iter().zip(&renewed) {
        assert_eq!((*after - *before).num_days(), 13, "{before} → {after}");
    }
    for (_, expires) in &again.subscribed {
        assert!((expires - start - 27 * 86_400_000).abs() < 60_000);
    }

    // A batch with no valid number at all (UPS answers 400) only refuses those numbers.
    let sub = h
        .carrier()
        .subscribe_tracking(&["1Z9W1A470300000001".to_owned(), "not-a-number".to_owned()])
        .await
        .unwrap();
    assert!(sub.subscribed.is_empty());
    assert_eq!(sub.refused.len(), 2, "{sub:?}");
}

#[tokio::test]
async fn single_objects_and_string_numbers_parse() {
    let h = SimHost::start(SimOptions {
        ups_single_object: true,
        ..SimOptions::default().shipments(3)
    })
    .await;
    let carrier = h.carrier();

    let v = carrier.validate_address(&new_york()).await.unwrap();
    let AddressVerdict::Valid(a) = &v.verdict else {
        panic!("{:?}", v.verdict)
    };
    assert_eq!(a.lines.len(), 1, "{a:?}");
    let v = carrier
        .validate_address(&us("1 Main St", "Timonium", "MD", "21099"))
        .await
        .unwrap();
    assert!(
        matches!(&v.verdict, AddressVerdict::Ambiguous(c) if c.len() == 1),
        "one candidate, sent as an object: {:?}",
        v.verdict
    );

    let rates = carrier
        .rate_shipment(&RateRequest {
            ship_to: new_york(),
            parcels: metric_parcels(1),
            service: Some("03".into()),
            site: None,
        })
        .await
        .unwrap();
    assert_eq!(rates.len(), 1);
    let total: f64 = rates[0].total.amount.parse().unwrap();
    assert!(total > 0.0, "{rates:?}");

    let created = create(&h, "10001", 1).await;
    assert_eq!(created.tracking_numbers.len(), 1);
    let view = &h.sims.ups().shipments()[0];
    assert_eq!(
        created.charges.amount.parse::<f64>().ok(),
        view.negotiated_charges
            .as_ref()
            .and_then(|c| c.parse().ok())
    );
    assert!(
        !carrier
            .get_label(&created.tracking_numbers[0])
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert_eq!(carrier.find_shipments("10001").await.unwrap().len(), 1);
    h.bind_ups("amnesiac", &[]);
    let found = h
        .host
        .runtime
        .carrier("amnesiac", UPS)
        .find_shipments("10001")
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].tracking_numbers, created.tracking_numbers);

    let sub = carrier
        .subscribe_tracking(&created.tracking_numbers)
        .await
        .unwrap();
    assert_eq!(sub.subscribed.len(), 1);
    h.advance(Duration::from_secs(86_400)).await;
    assert!(
        carrier
            .track(&created.tracking_numbers[0])
            .await
            .unwrap()
            .len()
            >= 2
    );
    let page = carrier.poll_tracking(None).await.unwrap();
    assert!(!page.events.is_empty());
}

#[tokio::test]
async fn a_429_is_retryable_with_its_retry_after_and_a_400_is_rejected_with_ups_code() {
    let h = sim().await;
    let carrier = h.carrier();
    let rate = RateRequest {
        ship_to: new_york(),
        parcels: metric_parcels(1),
        service: Some("03".into()),
        site: None,
    };
    h.fault(FaultSpec::next("ups.rate", FaultKind::TooManyRequests, 1).with_retry_after(30));
    let result = carrier.rate_shipment(&rate).await;
    assert!(result.as_ref().err().is_some_and(InvokeError::is_retryable));
    match plugin_error(result) {
        WitError::RateLimited(RetryInfo { retry_after_ms, .. }) => {
            assert_eq!(retry_after_ms, Some(30_000))
        }
        other => panic!("{other:?}"),
    }
    h.fault(FaultSpec::next("ups.ship", FaultKind::TooManyRequests, 1));
    match plugin_error(
        carrier
            .create_shipment(&request("10001", metric_parcels(1)))
            .await,
    ) {
        WitError::RateLimited(RetryInfo { retry_after_ms, .. }) => assert_eq!(retry_after_ms, None),
        other => panic!("{other:?}"),
    }
    assert!(h.sims.ups().shipments().is_empty(), "a 429 creates nothing");
    h.fault(FaultSpec::next("ups.track", FaultKind::Unavailable, 1).with_retry_after(5));
    match plugin_error(carrier.track("1Z9W1A470399999997").await) {
        WitError::Unavailable(RetryInfo { retry_after_ms, .. }) => {
            assert_eq!(retry_after_ms, Some(5_000))
        }
        other => panic!("{other:?}"),
    }

    // A shipper number that is not the account's: UPS's 400 and code, permanent.
    h.bind_ups("wrong-account", &[("shipper-number", "ZZZZZZ")]);
    let result = h
        .host
        .runtime
        .carrier("wrong-account", UPS)
        .create_shipment(&request("10001", metric_parcels(1)))
        .await;
    assert!(!result.as_ref().err().is_some_and(InvokeError::is_retryable));
    match plugin_error(result) {
        WitError::Rejected(v) => {
            assert_eq!((v.status, &v.code[..]), (400, "120100"), "{v:?}");
            assert!(!v.message.is_empty());
        }
        other => panic!("{other:?}"),
    }

    // A refused token: refreshed once by the host; a token UPS never accepts: unauthorized.
    h.credentials.poison(UPS_CONNECTION, "Bearer revoked");
    carrier.rate_shipment(&rate).await.unwrap();
    h.credentials.forge(UPS_CONNECTION, Some("Bearer forged"));
    let err = plugin_error(carrier.rate_shipment(&rate).await);
    assert!(matches!(err, WitError::Unauthorized(_)), "{err:?}");
}

#[tokio::test]
async fn every_request_carries_a_fresh_trans_id_and_the_transaction_src() {
    let h = sim().await;
    let carrier = h.carrier();
    carrier.validate_address(&new_york()).await.unwrap();
    carrier
        .rate_shipment(&RateRequest {
            ship_to: new_york(),
            parcels: metric_parcels(1),
            service: None,
            site: None,
        })
        .await
        .unwrap();
    let created = create(&h, "10001", 2).await;
    carrier.track(&created.tracking_numbers[0]).await.unwrap();
    carrier
        .subscribe_tracking(&created.tracking_numbers)
        .await
        .unwrap();
    carrier.poll_tracking(None).await.unwrap();
    h.bind_ups("amnesiac", &[]);
    h.host
        .runtime
        .carrier("amnesiac", UPS)
        .find_shipments("10001")
        .await
        .unwrap();
    carrier.void_shipment(&created.shipment_id).await.unwrap();

    let requests = ups_requests(&h);
    let routes: BTreeSet<&str> = requests.iter().map(|r| r.route.as_str()).collect();
    for route in [
        "ups.xav",
        "ups.rate",
        "ups.ship",
        "ups.track",
        "ups.subscription",
        "ups.quantumview",
        "ups.track_reference",
        "ups.void",
    ] {
        assert!(routes.contains(route), "no {route} request: {routes:?}");
    }
    let mut ids = BTreeSet::new();
    for r in &requests {
        let id = r
            .headers
            .get("transid")
            .unwrap_or_else(|| panic!("no transId: {r:?}"));
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert!(ids.insert(id.clone()), "transId {id} reused");
        assert_eq!(
            r.headers.get("transactionsrc").map(String::as_str),
            Some("mlc-it"),
            "{r:?}"
        );
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some("Bearer")
        );
    }
    assert_eq!(
        h.credentials.fetched(UPS_CONNECTION),
        1,
        "one token shared by all calls"
    );
}

#[tokio::test]
async fn international_references_and_configured_units() {
    let h = sim().await;
    // US → CA: UPS takes reference numbers on the shipment, not on the packages.
    let toronto = Address {
        name: "Queen Street Apparel".into(),
        attention: None,
        lines: vec!["100 Queen St W".into()],
        city: "Toronto".into(),
        state: Some("ON".into()),
        postal_code: "M5H 2N2".into(),
        country: "CA".into(),
        phone: Some("4165550100".into()),
        email: None,
    };
    let created = h
        .carrier()
        .create_shipment(&ShipmentRequest {
            service: "11".into(),
            ship_to: toronto,
            ..request("10004", metric_parcels(1))
        })
        .await
        .unwrap();
    let view = h
        .sims
        .ups()
        .shipments()
        .into_iter()
        .find(|s| s.shipment_id == created.shipment_id)
        .unwrap();
    assert!(view.references.contains(&"10004".to_owned()), "{view:?}");
    assert!(view.references.contains(&"C10004".to_owned()), "{view:?}");
    assert!(
        view.packages.iter().all(|p| p.references.is_empty()),
        "{view:?}"
    );
    assert_eq!(view.ship_to.country, "CA");
    assert_eq!(h.sims.ups().shipments_by_reference()["10004"].created, 1);

    // A tenant declaring metric units: pounds and inches are converted to KGS / CM.
    h.bind_ups("metric", &[("units", "metric")]);
    let imperial = Parcel {
        id: "HU1".into(),
        weight: Weight {
            value: 10.0,
            unit: WeightUnit::Pounds,
        },
        dimensions: Some(Dimensions {
            length: 16.0,
            width: 12.0,
            height: 8.0,
            unit: LengthUnit::Inches,
        }),
        description: None,
    };
    let created = h
        .host
        .runtime
        .carrier("metric", UPS)
        .create_shipment(&request("10005", vec![imperial]))
        .await
        .unwrap();
    let view = h
        .sims
        .ups()
        .shipments()
        .into_iter()
        .find(|s| s.shipment_id == created.shipment_id)
        .unwrap();
    let p = &view.packages[0];
    // 10 lb = 4.536 kg, rounded up to 0.1; 16 × 12 × 8 in = 40.6 × 30.5 × 20.3 cm.
    assert_eq!((p.weight.as_str(), p.weight_unit.as_str()), ("4.6", "KGS"));
    assert_eq!(
        p.dimensions.clone().unwrap(),
        ["41", "30", "20", "CM"].map(String::from)
    );
}
