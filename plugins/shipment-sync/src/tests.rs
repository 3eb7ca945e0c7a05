//! The entry points on a scripted platform: an in-memory store, an ERP and a carrier that
//! record every call, with injectable failures.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use mlc_plugin_sdk::exports::flow::{Outcome, Tick, WorkItem};
use mlc_plugin_sdk::{
    Address, AddressClassification, AddressValidation, AddressVerdict, CarrierShipment, Error,
    FreightCharge, FreightOutcome, Money, Rate, RateRequest, ReadyItem, ReadyPage, RefusedNumber,
    RetryInfo, Shipment, ShipmentRequest, SubscriptionResult, TrackingEvent, TrackingPoll,
    TrackingStatus,
};

use crate::mapping::tests::{address, rate, shipment};
use crate::ops;
use crate::platform::{Level, Platform, Result};
use crate::store::{self, SubRecord};
use crate::tracking::{ShipmentTrack, Status};

const NOW: i64 = 1_772_000_000_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

type PageKey = (Option<String>, Option<String>);

#[derive(Default)]
struct Fake {
    now: Cell<i64>,
    config: RefCell<BTreeMap<String, String>>,
    kv: RefCell<BTreeMap<String, (Vec<u8>, u64)>>,
    shipments: RefCell<BTreeMap<String, Shipment>>,
    pages: RefCell<BTreeMap<PageKey, ReadyPage>>,
    verdict: RefCell<Option<AddressVerdict>>,
    charges: RefCell<String>,
    refuse: RefCell<BTreeSet<String>>,
    feed: RefCell<VecDeque<TrackingPoll>>,
    fail: RefCell<BTreeMap<&'static str, VecDeque<Error>>>,
    calls: RefCell<Vec<String>>,
    erp_tracking: RefCell<Vec<(String, TrackingEvent)>>,
    freight: RefCell<Vec<FreightCharge>>,
    created: RefCell<Vec<ShipmentRequest>>,
    subscribe_calls: RefCell<Vec<Vec<String>>>,
    logs: RefCell<Vec<(Level, String)>>,
}

fn unavailable() -> Error {
    Error::Unavailable(RetryInfo {
        message: "503".into(),
        retry_after_ms: Some(1000),
    })
}

impl Fake {
    fn new() -> Fake {
        let f = Fake::default();
        f.now.set(NOW);
        *f.charges.borrow_mut() = "31.20".into();
        f
    }
    fn with_shipment(self, s: Shipment) -> Fake {
        self.shipments.borrow_mut().insert(s.erp_id.clone(), s);
        self
    }
    fn call(&self, name: &'static str, detail: &str) -> Result<()> {
        self.calls.borrow_mut().push(if detail.is_empty() {
            name.to_owned()
        } else {
            format!("{name} {detail}")
        });
        match self
            .fail
            .borrow_mut()
            .get_mut(name)
            .and_then(VecDeque::pop_front)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    fn fail_next(&self, name: &'static str, e: Error) {
        self.fail.borrow_mut().entry(name).or_default().push_back(e);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        self.kv
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }
    fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.kv
            .borrow()
            .get(key)
            .map(|(v, _)| serde_json::from_slice(v).unwrap())
    }
    fn tick(&self) -> Tick {
        Tick {
            tenant: "acme".into(),
            now: self.now.get(),
            run_id: "run-1".into(),
        }
    }
    fn written(&self) -> Vec<(String, TrackingStatus)> {
        self.erp_tracking
            .borrow()
            .iter()
            .map(|(id, e)| (id.clone(), e.status))
            .collect()
    }
}

impl Platform for Fake {
    fn list_ready_shipments(&self, cursor: Option<&str>, page: Option<&str>) -> Result<ReadyPage> {
        self.call("list-ready-shipments", &format!("{cursor:?} {page:?}"))?;
        let key = (cursor.map(Into::into), page.map(Into::into));
        self.pages
            .borrow()
            .get(&key)
            .cloned()
            .ok_or_else(|| Error::internal(format!("no page {key:?}")))
    }
    fn get_shipment(&self, erp_id: &str) -> Result<Shipment> {
        self.call("get-shipment", erp_id)?;
        self.shipments
            .borrow()
            .get(erp_id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("shipment {erp_id}")))
    }
    fn record_carrier_shipment(&self, erp_id: &str, s: &CarrierShipment) -> Result<()> {
        self.call(
            "record-carrier-shipment",
            &format!("{erp_id} {}", s.tracking_numbers.join(",")),
        )
    }
    fn record_freight_cost(&self, charge: &FreightCharge) -> Result<FreightOutcome> {
        self.call(
            "record-freight-cost",
            &format!("{} {}", charge.reference, charge.amount.amount),
        )?;
        let mut f = self.freight.borrow_mut();
        let already = f.iter().any(|c| c.reference == charge.reference);
        if already {
            return Ok(FreightOutcome::AlreadyPosted);
        }
        f.push(charge.clone());
        Ok(FreightOutcome::Posted)
    }
    fn record_tracking(&self, erp_id: &str, event: &TrackingEvent) -> Result<()> {
        self.call("record-tracking", erp_id)?;
        self.erp_tracking
            .borrow_mut()
            .push((erp_id.to_owned(), event.clone()));
        Ok(())
    }
    fn validate_address(&self, a: &Address) -> Result<AddressValidation> {
        self.call("validate-address", "")?;
        let verdict = self.verdict.borrow().clone().unwrap_or_else(|| {
            let mut std = a.clone();
            std.postal_code = format!("{}-1234", a.postal_code);
            AddressVerdict::Valid(std)
        });
        Ok(AddressValidation {
            verdict,
            classification: AddressClassification::Commercial,
        })
    }
    fn rate_shipment(&self, r: &RateRequest) -> Result<Vec<Rate>> {
        self.call("rate-shipment", r.service.as_deref().unwrap_or("shop"))?;
        Ok(vec![
            rate("02", "44.00"),
            rate(r.service.as_deref().unwrap_or("03"), "23.45"),
        ])
    }
    fn create_shipment(&self, r: &ShipmentRequest) -> Result<CarrierShipment> {
        self.call("create-shipment", &r.idempotency_key)?;
        self.created.borrow_mut().push(r.clone());
        Ok(CarrierShipment {
            shipment_id: format!("1ZS{}", r.reference),
            tracking_numbers: (0..r.parcels.len())
                .map(|i| format!("1Z{}P{i}", r.reference))
                .collect(),
            service: r.service.clone(),
            charges: Money {
                amount: self.charges.borrow().clone(),
                currency: "USD".into(),
            },
            negotiated: true,
            reference: r.reference.clone(),
            voided: false,
            created_at: Some(self.now.get()),
        })
    }
    fn subscribe_tracking(&self, numbers: &[String]) -> Result<SubscriptionResult> {
        self.call("subscribe-tracking", &numbers.join(","))?;
        self.subscribe_calls.borrow_mut().push(numbers.to_vec());
        let refuse = self.refuse.borrow();
        Ok(SubscriptionResult {
            subscribed: numbers
                .iter()
                .filter(|n| !refuse.contains(*n))
                .map(|n| (n.clone(), self.now.get() + 14 * DAY))
                .collect(),
            refused: numbers
                .iter()
                .filter(|n| refuse.contains(*n))
                .map(|n| RefusedNumber {
                    tracking_number: n.clone(),
                    reason: "TW0001: invalid".into(),
                })
                .collect(),
        })
    }
    fn poll_tracking(&self, bookmark: Option<&str>) -> Result<TrackingPoll> {
        self.call("poll-tracking", bookmark.unwrap_or("-"))?;
        Ok(self.feed.borrow_mut().pop_front().unwrap_or(TrackingPoll {
            events: vec![],
            bookmark: None,
        }))
    }
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self.kv.borrow().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<u64> {
        let mut kv = self.kv.borrow_mut();
        let rev = kv.get(key).map_or(1, |(_, r)| r + 1);
        kv.insert(key.to_owned(), (value.to_vec(), rev));
        Ok(rev)
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &[u8],
    ) -> Result<Option<u64>> {
        let current = self.kv.borrow().get(key).map(|(_, r)| *r);
        if current != expected {
            return Ok(None);
        }
        self.set(key, value).map(Some)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.kv.borrow_mut().remove(key);
        Ok(())
    }
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self.keys(prefix))
    }
    fn config(&self, key: &str) -> Option<String> {
        self.config.borrow().get(key).cloned()
    }
    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }
}

fn item(id: &str) -> WorkItem {
    WorkItem {
        id: format!("wi-{id}"),
        key: id.into(),
        attempt: 1,
        shipment: shipment(id),
    }
}

fn ev(tn: &str, status: TrackingStatus, code: &str, at: i64) -> TrackingEvent {
    TrackingEvent {
        tracking_number: tn.into(),
        status,
        carrier_code: code.into(),
        description: code.into(),
        occurred_at: at,
        location: Some("Atlanta, GA, US".into()),
        delivered_at: None,
        received_by: None,
    }
}

fn completed(o: Outcome) -> String {
    match o {
        Outcome::Completed(s) => s,
        Outcome::Held(h) => panic!("held: {h:?}"),
    }
}

#[test]
fn process_drives_a_shipment_end_to_end() {
    let f = Fake::new().with_shipment(shipment("1042"));
    let summary = completed(ops::process(&f, &item("1042")).unwrap());
    assert_eq!(
        f.calls(),
        vec![
            "get-shipment 1042",
            "validate-address",
            "rate-shipment 03",
            "create-shipment ship:1042",
            "record-carrier-shipment 1042 1Z1042P0",
            "record-freight-cost 1ZS1042 31.20",
        ]
    );
    assert!(summary.contains("tracking 1Z1042P0"), "{summary}");
    assert!(summary.contains("freight 31.20 USD posted"), "{summary}");
    // The standardized address is shipped to; references are stable.
    let req = f.created.borrow()[0].clone();
    assert_eq!(req.ship_to.postal_code, "91302-1234");
    assert_eq!(
        (
            req.reference.as_str(),
            req.order_ref.as_str(),
            req.service.as_str()
        ),
        ("1042", "CO-1042", "03")
    );
    let charge = f.freight.borrow()[0].clone();
    assert_eq!(charge.cost_center.as_deref(), Some("CC-400"));
    assert_eq!(charge.code_parts[0].value, "PRJ-7");
    // Tracking bookkeeping.
    assert_eq!(f.keys("trk/"), vec!["trk/1Z1042P0"]);
    assert_eq!(f.keys("pending-sub/"), vec!["pending-sub/1Z1042P0"]);
    let st: ShipmentTrack = f.json("ship/1042").unwrap();
    assert_eq!(st.carrier_shipment_id, "1ZS1042");
    assert_eq!(st.parcels.len(), 1);
    assert!(
        f.subscribe_calls.borrow().is_empty(),
        "process never subscribes"
    );
}

#[test]
fn process_rereads_the_shipment_and_holds_bad_addresses() {
    let f = Fake::new().with_shipment(shipment("7"));
    let mut cand = address();
    cand.lines = vec!["26601 AGOURA RD".into()];
    *f.verdict.borrow_mut() = Some(AddressVerdict::Ambiguous(vec![cand.clone(), address()]));
    match ops::process(&f, &item("7")).unwrap() {
        Outcome::Held(h) => {
            assert_eq!(h.step, "validate-address");
            assert_eq!(h.candidates.len(), 2);
            assert_eq!(h.candidates[0].lines, cand.lines);
        }
        other => panic!("{other:?}"),
    }
    *f.verdict.borrow_mut() = Some(AddressVerdict::NoCandidates);
    assert!(
        matches!(ops::process(&f, &item("7")).unwrap(), Outcome::Held(h) if h.candidates.is_empty())
    );
    assert!(f.created.borrow().is_empty());
    // The operator fixes the address; the replay goes through.
    *f.verdict.borrow_mut() = None;
    completed(ops::process(&f, &item("7")).unwrap());
}

#[test]
fn unmapped_ship_via_is_held_and_the_map_is_configurable() {
    let mut s = shipment("8");
    s.ship_via = "FASTEST".into();
    let f = Fake::new().with_shipment(s);
    match ops::process(&f, &item("8")).unwrap() {
        Outcome::Held(h) => assert_eq!(h.step, "map-service"),
        other => panic!("{other:?}"),
    }
    assert!(!f.calls().iter().any(|c| c.starts_with("rate-shipment")));
    f.config
        .borrow_mut()
        .insert("service-map".into(), r#"{"fastest":"14"}"#.into());
    completed(ops::process(&f, &item("8")).unwrap());
    assert_eq!(f.created.borrow()[0].service, "14");
}

#[test]
fn zero_charges_book_the_rate() {
    let f = Fake::new().with_shipment(shipment("9"));
    *f.charges.borrow_mut() = "0.00".into();
    let summary = completed(ops::process(&f, &item("9")).unwrap());
    assert_eq!(f.freight.borrow()[0].amount.amount, "23.45");
    assert!(summary.contains("freight 23.45 USD"), "{summary}");
    assert!(
        f.logs
            .borrow()
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.contains("no charges"))
    );
}

#[test]
fn a_retry_after_a_failed_write_back_repeats_safely() {
    let f = Fake::new().with_shipment(shipment("1042"));
    f.fail_next("record-carrier-shipment", unavailable());
    let err = ops::process(&f, &item("1042")).unwrap_err();
    assert!(err.is_retryable());
    // Tracking is known already, so early events are not lost.
    assert_eq!(f.keys("trk/"), vec!["trk/1Z1042P0"]);
    // An event arrives between the attempts.
    let r = ops::handle_tracking(
        &f,
        &[ev("1Z1042P0", TrackingStatus::InTransit, "OR", NOW + HOUR)],
    )
    .unwrap();
    assert_eq!(r.applied, 1);
    completed(ops::process(&f, &item("1042")).unwrap());
    // The retry did not reset the tracking state, and the idempotency key is the same.
    let st: ShipmentTrack = f.json("ship/1042").unwrap();
    assert_eq!(st.status, Some(Status::InTransit));
    let keys: Vec<String> = f
        .created
        .borrow()
        .iter()
        .map(|r| r.idempotency_key.clone())
        .collect();
    assert_eq!(keys, vec!["ship:1042", "ship:1042"]);
    assert_eq!(f.keys("pending-sub/").len(), 1);
}

#[test]
fn permanent_errors_fail_the_item() {
    let f = Fake::new();
    assert!(matches!(
        ops::process(&f, &item("404")),
        Err(Error::NotFound(_))
    ));
    let f = Fake::new().with_shipment(shipment("1"));
    f.config
        .borrow_mut()
        .insert("label-format".into(), "pdf".into());
    assert!(
        matches!(ops::process(&f, &item("1")), Err(Error::InvalidInput(e)) if e.field == "label-format")
    );
}

#[test]
fn handle_tracking_applies_forward_transitions_only() {
    let f = Fake::new().with_shipment(shipment("1042"));
    completed(ops::process(&f, &item("1042")).unwrap());
    let tn = "1Z1042P0";
    let r = ops::handle_tracking(
        &f,
        &[
            ev("1ZUNKNOWN", TrackingStatus::InTransit, "OR", NOW),
            ev(tn, TrackingStatus::InTransit, "OR", NOW + HOUR),
            ev(tn, TrackingStatus::InTransit, "OR", NOW + HOUR),
            ev(tn, TrackingStatus::OutForDelivery, "OT", NOW + 3 * HOUR),
            ev(tn, TrackingStatus::InTransit, "AR", NOW + 2 * HOUR),
        ],
    )
    .unwrap();
    assert_eq!((r.applied, r.ignored), (2, 3));
    // A redelivery of the same batch changes nothing.
    let again = ops::handle_tracking(
        &f,
        &[ev(tn, TrackingStatus::OutForDelivery, "OT", NOW + 3 * HOUR)],
    )
    .unwrap();
    assert_eq!((again.applied, again.ignored), (0, 1));
    let mut delivered = ev(tn, TrackingStatus::Delivered, "FS", NOW + 5 * HOUR);
    delivered.delivered_at = Some(NOW + 5 * HOUR);
    let r = ops::handle_tracking(
        &f,
        &[
            ev(tn, TrackingStatus::Exception, "X1", NOW + 4 * HOUR),
            delivered,
        ],
    )
    .unwrap();
    assert_eq!(r.applied, 2);
    assert_eq!(
        f.written(),
        vec![
            ("1042".to_owned(), TrackingStatus::InTransit),
            ("1042".to_owned(), TrackingStatus::OutForDelivery),
            ("1042".to_owned(), TrackingStatus::Exception),
            ("1042".to_owned(), TrackingStatus::Delivered),
        ]
    );
    assert_eq!(
        f.erp_tracking.borrow()[3].1.delivered_at,
        Some(NOW + 5 * HOUR)
    );
    // Delivered: no subscription needed any more.
    assert!(f.keys("pending-sub/").is_empty());
    assert!(f.keys("sub/").is_empty());
}

#[test]
fn a_retryable_erp_error_leaves_storage_for_the_redelivery() {
    let f = Fake::new().with_shipment(shipment("1042"));
    completed(ops::process(&f, &item("1042")).unwrap());
    let batch = [
        ev("1Z1042P0", TrackingStatus::InTransit, "OR", NOW + HOUR),
        ev(
            "1Z1042P0",
            TrackingStatus::OutForDelivery,
            "OT",
            NOW + 2 * HOUR,
        ),
    ];
    f.fail_next("record-tracking", unavailable());
    assert!(ops::handle_tracking(&f, &batch).unwrap_err().is_retryable());
    let st: ShipmentTrack = f.json("ship/1042").unwrap();
    assert_eq!(st.status, None);
    let r = ops::handle_tracking(&f, &batch).unwrap();
    assert_eq!((r.applied, r.ignored), (2, 0));
}

#[test]
fn a_permanent_erp_error_fails_the_batch_but_not_the_other_events() {
    let f = Fake::new()
        .with_shipment(shipment("1"))
        .with_shipment(shipment("2"));
    completed(ops::process(&f, &item("1")).unwrap());
    completed(ops::process(&f, &item("2")).unwrap());
    f.fail_next("record-tracking", Error::NotFound("shipment 1".into()));
    let batch = [
        ev("1Z1P0", TrackingStatus::InTransit, "OR", NOW),
        ev("1Z2P0", TrackingStatus::InTransit, "OR", NOW),
    ];
    assert!(matches!(
        ops::handle_tracking(&f, &batch),
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        f.written(),
        vec![("2".to_owned(), TrackingStatus::InTransit)]
    );
    // A replay applies only what is missing.
    let r = ops::handle_tracking(&f, &batch).unwrap();
    assert_eq!((r.applied, r.ignored), (1, 1));
}

#[test]
fn maintain_subscribes_in_one_call_renews_and_forgets() {
    let f = Fake::new();
    for id in ["1", "2", "3"] {
        f.shipments.borrow_mut().insert(id.into(), shipment(id));
        completed(ops::process(&f, &item(id)).unwrap());
    }
    let up = ops::maintain(&f, &f.tick()).unwrap();
    assert_eq!((up.subscribed, up.refused, up.polled_events), (3, 0, 0));
    assert_eq!(
        f.subscribe_calls.borrow().clone(),
        vec![vec!["1Z1P0", "1Z2P0", "1Z3P0"]]
    );
    assert!(f.keys("pending-sub/").is_empty());
    let sub: SubRecord = f.json("sub/1Z1P0").unwrap();
    assert_eq!(sub.expires_at, Some(NOW + 14 * DAY));
    assert!(
        !f.calls().iter().any(|c| c.starts_with("poll-tracking")),
        "all covered: no poll"
    );

    // Nothing due a day later.
    f.now.set(NOW + DAY);
    assert_eq!(ops::maintain(&f, &f.tick()).unwrap().subscribed, 0);
    assert_eq!(f.subscribe_calls.borrow().len(), 1);

    // Shipment 2 is delivered; 12 days on, the others are renewed before the window ends.
    ops::handle_tracking(
        &f,
        &[ev("1Z2P0", TrackingStatus::Delivered, "FS", NOW + 2 * DAY)],
    )
    .unwrap();
    f.now.set(NOW + 12 * DAY + HOUR);
    let up = ops::maintain(&f, &f.tick()).unwrap();
    assert_eq!(up.subscribed, 2);
    assert_eq!(f.subscribe_calls.borrow()[1], vec!["1Z1P0", "1Z3P0"]);
    let sub: SubRecord = f.json("sub/1Z1P0").unwrap();
    assert_eq!(sub.expires_at, Some(NOW + 26 * DAY + HOUR));
    assert_eq!(f.keys("sub/"), vec!["sub/1Z1P0", "sub/1Z3P0"]);
}

#[test]
fn refused_and_lapsed_numbers_are_polled() {
    let f = Fake::new();
    for id in ["1", "2"] {
        f.shipments.borrow_mut().insert(id.into(), shipment(id));
        completed(ops::process(&f, &item(id)).unwrap());
    }
    f.refuse.borrow_mut().insert("1Z2P0".into());
    f.feed.borrow_mut().extend([
        TrackingPoll {
            events: vec![
                ev("1Z2P0", TrackingStatus::InTransit, "OR", NOW + HOUR),
                ev("1ZOTHER", TrackingStatus::InTransit, "OR", NOW),
            ],
            bookmark: Some("bm1".into()),
        },
        TrackingPoll {
            events: vec![ev(
                "1Z2P0",
                TrackingStatus::OutForDelivery,
                "OT",
                NOW + 2 * HOUR,
            )],
            bookmark: None,
        },
    ]);
    let up = ops::maintain(&f, &f.tick()).unwrap();
    assert_eq!((up.subscribed, up.refused, up.polled_events), (1, 1, 2));
    let polls: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("poll-tracking"))
        .collect();
    assert_eq!(polls, vec!["poll-tracking -", "poll-tracking bm1"]);
    assert!(f.kv.borrow().get("poll/bookmark").is_none());
    let sub: SubRecord = f.json("sub/1Z2P0").unwrap();
    assert_eq!(sub.refused.as_deref(), Some("TW0001: invalid"));

    // Refused numbers are not re-subscribed, but keep the feed polled.
    let before = f.subscribe_calls.borrow().len();
    ops::maintain(&f, &f.tick()).unwrap();
    assert_eq!(f.subscribe_calls.borrow().len(), before);
    assert_eq!(
        f.calls()
            .iter()
            .filter(|c| c.starts_with("poll-tracking"))
            .count(),
        3
    );

    // A lapsed subscription (maintain did not run for 15 days) is renewed and polled.
    f.refuse.borrow_mut().clear();
    ops::handle_tracking(
        &f,
        &[ev("1Z2P0", TrackingStatus::Delivered, "FS", NOW + DAY)],
    )
    .unwrap();
    f.now.set(NOW + 15 * DAY);
    let up = ops::maintain(&f, &f.tick()).unwrap();
    assert_eq!(up.subscribed, 1);
    assert_eq!(
        f.calls()
            .iter()
            .filter(|c| c.starts_with("poll-tracking"))
            .count(),
        4
    );
}

#[test]
fn poll_always_polls_and_a_failed_erp_keeps_the_events() {
    let f = Fake::new().with_shipment(shipment("1"));
    completed(ops::process(&f, &item("1")).unwrap());
    f.config
        .borrow_mut()
        .insert("poll-always".into(), "true".into());
    f.feed.borrow_mut().push_back(TrackingPoll {
        events: vec![
            ev("1Z1P0", TrackingStatus::InTransit, "OR", NOW + HOUR),
            ev(
                "1Z1P0",
                TrackingStatus::OutForDelivery,
                "OT",
                NOW + 2 * HOUR,
            ),
        ],
        bookmark: Some("bm9".into()),
    });
    f.fail_next("record-tracking", unavailable());
    assert!(ops::maintain(&f, &f.tick()).unwrap_err().is_retryable());
    assert_eq!(
        f.json::<Vec<serde_json::Value>>("poll/backlog")
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store::get_text(&f, "poll/bookmark").unwrap().as_deref(),
        Some("bm9")
    );
    // Next upkeep: the backlog first, then the feed from the bookmark.
    let up = ops::maintain(&f, &f.tick()).unwrap();
    assert_eq!(up.polled_events, 2);
    assert!(f.kv.borrow().get("poll/backlog").is_none());
    assert!(f.calls().contains(&"poll-tracking bm9".to_owned()));
    assert_eq!(f.written().len(), 2);
}

#[test]
fn a_failed_subscription_is_retried_and_meanwhile_polled() {
    let f = Fake::new().with_shipment(shipment("1"));
    completed(ops::process(&f, &item("1")).unwrap());
    f.fail_next(
        "subscribe-tracking",
        Error::RateLimited(RetryInfo {
            message: "429".into(),
            retry_after_ms: None,
        }),
    );
    assert!(ops::maintain(&f, &f.tick()).unwrap_err().is_retryable());
    assert_eq!(f.keys("pending-sub/"), vec!["pending-sub/1Z1P0"]);
    assert!(f.calls().iter().any(|c| c.starts_with("poll-tracking")));
    assert_eq!(ops::maintain(&f, &f.tick()).unwrap().subscribed, 1);
    assert!(f.keys("pending-sub/").is_empty());
}

#[test]
fn a_lost_race_puts_the_newest_state_back_in_the_erp() {
    // Another writer stores a newer state between our ERP write and our compare-and-swap.
    struct Racing<'a> {
        inner: &'a Fake,
        raced: Cell<bool>,
    }
    impl Platform for Racing<'_> {
        fn list_ready_shipments(&self, c: Option<&str>, p: Option<&str>) -> Result<ReadyPage> {
            self.inner.list_ready_shipments(c, p)
        }
        fn get_shipment(&self, id: &str) -> Result<Shipment> {
            self.inner.get_shipment(id)
        }
        fn record_carrier_shipment(&self, id: &str, s: &CarrierShipment) -> Result<()> {
            self.inner.record_carrier_shipment(id, s)
        }
        fn record_freight_cost(&self, c: &FreightCharge) -> Result<FreightOutcome> {
            self.inner.record_freight_cost(c)
        }
        fn record_tracking(&self, id: &str, e: &TrackingEvent) -> Result<()> {
            self.inner.record_tracking(id, e)?;
            if !self.raced.replace(true) {
                let mut newer = ev("1Z1P0", TrackingStatus::Delivered, "FS", NOW + 9 * HOUR);
                newer.delivered_at = Some(NOW + 9 * HOUR);
                self.inner.record_tracking(id, &newer)?;
                ops::handle_tracking(&ErpSilent(self.inner), &[newer]).map(|_| ())?;
            }
            Ok(())
        }
        fn validate_address(&self, a: &Address) -> Result<AddressValidation> {
            self.inner.validate_address(a)
        }
        fn rate_shipment(&self, r: &RateRequest) -> Result<Vec<Rate>> {
            self.inner.rate_shipment(r)
        }
        fn create_shipment(&self, r: &ShipmentRequest) -> Result<CarrierShipment> {
            self.inner.create_shipment(r)
        }
        fn subscribe_tracking(&self, n: &[String]) -> Result<SubscriptionResult> {
            self.inner.subscribe_tracking(n)
        }
        fn poll_tracking(&self, b: Option<&str>) -> Result<TrackingPoll> {
            self.inner.poll_tracking(b)
        }
        fn get(&self, k: &str) -> Result<Option<(Vec<u8>, u64)>> {
            self.inner.get(k)
        }
        fn set(&self, k: &str, v: &[u8]) -> Result<u64> {
            self.inner.set(k, v)
        }
        fn compare_and_swap(&self, k: &str, e: Option<u64>, v: &[u8]) -> Result<Option<u64>> {
            self.inner.compare_and_swap(k, e, v)
        }
        fn delete(&self, k: &str) -> Result<()> {
            self.inner.delete(k)
        }
        fn list_keys(&self, p: &str) -> Result<Vec<String>> {
            self.inner.list_keys(p)
        }
        fn config(&self, k: &str) -> Option<String> {
            self.inner.config(k)
        }
        fn log(&self, l: Level, m: &str) {
            self.inner.log(l, m)
        }
    }
    /// The other writer, whose ERP write was already made above.
    struct ErpSilent<'a>(&'a Fake);
    impl Platform for ErpSilent<'_> {
        fn list_ready_shipments(&self, c: Option<&str>, p: Option<&str>) -> Result<ReadyPage> {
            self.0.list_ready_shipments(c, p)
        }
        fn get_shipment(&self, id: &str) -> Result<Shipment> {
            self.0.get_shipment(id)
        }
        fn record_carrier_shipment(&self, id: &str, s: &CarrierShipment) -> Result<()> {
            self.0.record_carrier_shipment(id, s)
        }
        fn record_freight_cost(&self, c: &FreightCharge) -> Result<FreightOutcome> {
            self.0.record_freight_cost(c)
        }
        fn record_tracking(&self, _: &str, _: &TrackingEvent) -> Result<()> {
            Ok(())
        }
        fn validate_address(&self, a: &Address) -> Result<AddressValidation> {
            self.0.validate_address(a)
        }
        fn rate_shipment(&self, r: &RateRequest) -> Result<Vec<Rate>> {
            self.0.rate_shipment(r)
        }
        fn create_shipment(&self, r: &ShipmentRequest) -> Result<CarrierShipment> {
            self.0.create_shipment(r)
        }
        fn subscribe_tracking(&self, n: &[String]) -> Result<SubscriptionResult> {
            self.0.subscribe_tracking(n)
        }
        fn poll_tracking(&self, b: Option<&str>) -> Result<TrackingPoll> {
            self.0.poll_tracking(b)
        }
        fn get(&self, k: &str) -> Result<Option<(Vec<u8>, u64)>> {
            self.0.get(k)
        }
        fn set(&self, k: &str, v: &[u8]) -> Result<u64> {
            self.0.set(k, v)
        }
        fn compare_and_swap(&self, k: &str, e: Option<u64>, v: &[u8]) -> Result<Option<u64>> {
            self.0.compare_and_swap(k, e, v)
        }
        fn delete(&self, k: &str) -> Result<()> {
            self.0.delete(k)
        }
        fn list_keys(&self, p: &str) -> Result<Vec<String>> {
            self.0.list_keys(p)
        }
        fn config(&self, k: &str) -> Option<String> {
            self.0.config(k)
        }
        fn log(&self, l: Level, m: &str) {
            self.0.log(l, m)
        }
    }

    let f = Fake::new().with_shipment(shipment("1"));
    completed(ops::process(&f, &item("1")).unwrap());
    let racing = Racing {
        inner: &f,
        raced: Cell::new(false),
    };
    let r = ops::handle_tracking(
        &racing,
        &[ev("1Z1P0", TrackingStatus::InTransit, "OR", NOW + HOUR)],
    )
    .unwrap();
    assert_eq!((r.applied, r.ignored), (0, 1));
    // ERP saw: our in-transit, the other writer's delivered, then delivered again (re-asserted).
    assert_eq!(
        f.written().into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
        vec![
            TrackingStatus::InTransit,
            TrackingStatus::Delivered,
            TrackingStatus::Delivered
        ]
    );
    let st: ShipmentTrack = f.json("ship/1").unwrap();
    assert_eq!(st.status, Some(Status::Delivered));
}

#[test]
fn discover_reads_the_cursor_and_returns_the_checkpoint() {
    let f = Fake::new();
    f.config
        .borrow_mut()
        .insert("discover-max-pages".into(), "2".into());
    let page = |ids: &[&str], next: Option<&str>, cursor: &str| ReadyPage {
        items: ids
            .iter()
            .map(|id| ReadyItem {
                erp_id: (*id).into(),
                modified_at: NOW,
                shipment: Ok(shipment(id)),
            })
            .collect(),
        next_page: next.map(Into::into),
        cursor: cursor.into(),
    };
    f.set("cursor/erp", b"C0").unwrap();
    f.pages.borrow_mut().insert(
        (Some("C0".into()), None),
        page(&["1", "2"], Some("p2"), "C1"),
    );
    f.pages.borrow_mut().insert(
        (Some("C0".into()), Some("p2".into())),
        page(&["3"], Some("p3"), "C2"),
    );
    let d = ops::discover(&f, &f.tick()).unwrap();
    assert_eq!(d.items.len(), 3);
    assert!(d.more);
    let cp = d.checkpoint.unwrap();
    assert_eq!(
        (cp.key.as_str(), cp.value.as_slice()),
        ("cursor/erp", b"C2".as_slice())
    );
    // The flow does not write the cursor itself.
    assert_eq!(
        store::get_text(&f, "cursor/erp").unwrap().as_deref(),
        Some("C0")
    );
    // First run: no cursor.
    let f = Fake::new();
    f.pages
        .borrow_mut()
        .insert((None, None), page(&[], None, "C0"));
    let d = ops::discover(&f, &f.tick()).unwrap();
    assert!(!d.more);
    assert_eq!(d.checkpoint.unwrap().value, b"C0".to_vec());
}
