//! Scenario tests of the connector against an in-memory IFS (`fake.rs`): polling across pages
//! with records changing underneath, optimistic-concurrency write-back, idempotent freight.

mod fake;

use std::collections::{BTreeMap, BTreeSet};

use mlc_plugin_sdk::types::{FreightCharge, FreightOutcome, ReadyPage};
use mlc_plugin_sdk::{
    CarrierShipment, CodePart, Error, LengthUnit, Money, TrackingEvent, TrackingStatus, WeightUnit,
};
use serde_json::{Value, json};

use crate::api::Entity;
use crate::client::Ifs;
use crate::config::Settings;
use crate::odata::{format_timestamp, parse_timestamp};
use crate::transport::Method;
use crate::{freight, poll, writeback};
use fake::{FakeIfs, ORIGIN, Rec, State};

const T0: &str = "2026-03-01T08:00:00Z";

fn t0() -> i64 {
    parse_timestamp(T0).unwrap()
}

fn settings(extra: &[(&str, &str)]) -> Settings {
    let mut map: BTreeMap<String, String> = [
        ("host", ORIGIN),
        ("freight.charge-type", "FREIGHT"),
        ("poll.page-size", "4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(&move |k| map.get(k).cloned()).unwrap()
}

fn obj(v: Value) -> Entity {
    v.as_object().cloned().unwrap()
}

/// `n` ready shipments like the simulator's seed: groups of three share one modification
/// second; one handling unit each, alternating LBS/IN and KGS/CM; plus two not-ready ones.
fn seeded(n: i64) -> State {
    let mut st = State {
        page_cap: 3,
        now: t0() + 3_600_000,
        ..State::default()
    };
    for i in 0..n + 2 {
        let id = 10_001 + i;
        let ts = format_timestamp(t0() + (i / 3) * 60_000);
        let state = if i < n { "Completed" } else { "Preliminary" };
        let f = obj(json!({
            "ShipmentId": id, "Objstate": state, "Contract": "AC1", "Company": "ACME-US",
            "OrderNo": format!("C{}", 1_000_012_000 + i), "ReceiverAddressName": format!("Retailer {i}"),
            "ReceiverAddress1": format!("{i} Market St"), "ReceiverAddress2": null,
            "ReceiverZipCode": "94105", "ReceiverCity": "San Francisco", "ReceiverState": "CA",
            "ReceiverCountry": "US", "ReceiverContact": null, "ReceiverPhone": "+1 415 555 0100",
            "ShipViaCode": "UPSGND", "CodeB": "CC-400", "ProNo": null, "Cf$_Remark": null,
            "Cf$_TrackingStatus": null, "LastActivityDate": ts,
        }));
        st.shipments.insert(id, Rec { f, rev: 1 });
        let (wu, lu) = if i % 2 == 0 {
            ("LBS", "IN")
        } else {
            ("KGS", "CM")
        };
        st.hus.push(obj(json!({
            "HandlingUnitId": 500_000 + i, "ShipmentId": id, "Description": "Carton 1/1",
            "ManualGrossWeight": 10.5, "UomForWeight": wu, "Depth": 16, "Width": 12, "Height": 8, "UomForLength": lu,
        })));
        st.orders.insert(format!("C{}", 1_000_012_000 + i), obj(json!({"OrderNo": format!("C{}", 1_000_012_000 + i), "Contract": "AC1", "Company": "ACME-US", "CurrencyCode": "USD"})));
    }
    st
}

/// A host: stores items durably by (erp-id, modified-at, version), commits the page cursor.
#[derive(Default)]
struct Host {
    cursor: Option<String>,
    items: Vec<(String, i64, String)>,
    errors: Vec<(String, Error)>,
    pages: usize,
}

impl Host {
    fn poll(&mut self, ifs: &Ifs<'_>) {
        let mut page = None;
        loop {
            let ReadyPage {
                items,
                next_page,
                cursor,
            } = poll::list_ready(ifs, self.cursor.clone(), page.clone()).unwrap();
            self.pages += 1;
            for it in items {
                match it.shipment {
                    Ok(s) => {
                        assert_eq!(s.erp_id, it.erp_id);
                        self.items.push((it.erp_id, it.modified_at, s.version));
                    }
                    Err(e) => self.errors.push((it.erp_id, e)),
                }
            }
            self.cursor = Some(cursor);
            match next_page {
                Some(p) => page = Some(p),
                None => return,
            }
            assert!(self.pages < 200, "poll does not end");
        }
    }

    fn ids(&self) -> BTreeSet<String> {
        self.items.iter().map(|(id, _, _)| id.clone()).collect()
    }

    fn assert_no_version_twice(&self) {
        let mut seen = BTreeSet::new();
        for (id, _, v) in &self.items {
            assert!(
                seen.insert((id.clone(), v.clone())),
                "{id} version {v} returned twice"
            );
        }
    }
}

fn ready_ids(fake: &FakeIfs) -> BTreeSet<String> {
    fake.st
        .borrow()
        .shipments
        .iter()
        .filter(|(_, r)| r.f["Objstate"] == "Completed")
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Moves records while a poll is under way: before the 3rd shipment-list request another user
/// saves 10002 (read on page one: it moves to the end) and closes 10004 (it leaves the filter:
/// an offset pager now skips a record); before the 5th, 10013 gets a new remark.
fn meddle(fake: &FakeIfs) {
    let mut n = 0;
    fake.hook(move |req, st| {
        if req.method == Method::Get && req.url.contains("/ShipmentSet?") {
            n += 1;
            st.now += 1000;
            if n == 3 {
                st.touch(10_002, &[("Cf$_Remark", json!("checked"))]);
                st.touch(10_004, &[("Objstate", json!("Closed"))]);
            }
            if n == 5 {
                st.touch(10_013, &[("Cf$_Remark", json!("again"))]);
            }
        }
    });
}

fn run_poll_scenario(paging: &str) {
    let s = settings(&[("poll.paging", paging)]);
    let fake = FakeIfs::new(seeded(14));
    meddle(&fake);
    let ifs = Ifs { s: &s, t: &fake };
    let mut host = Host::default();
    host.poll(&ifs);
    assert!(host.pages >= 3, "{paging}: only {} pages", host.pages);
    // Everything still ready was returned; nothing with the same version twice.
    let expected = ready_ids(&fake);
    assert!(
        host.ids().is_superset(&expected),
        "{paging}: missing {:?}",
        expected.difference(&host.ids()).collect::<Vec<_>>()
    );
    host.assert_no_version_twice();
    // The records changed during the poll were delivered in their new version.
    for id in ["10002", "10013"] {
        let rev = fake.st.borrow().shipments[&id.parse::<i64>().unwrap()].rev;
        assert!(
            host.items
                .iter()
                .any(|(i, _, v)| i == id && v.ends_with(&format!(":{rev}\""))),
            "{paging}: {id} rev {rev}"
        );
    }
    // A second poll from the committed cursor returns nothing new (same-second groups and the
    // overlap window are de-duplicated), even though it re-reads the window.
    let before = host.items.len();
    host.poll(&ifs);
    assert_eq!(
        host.items.len(),
        before,
        "{paging}: second poll repeated records: {:?}",
        &host.items[before..]
    );
    // A change after the cursor is picked up exactly once.
    fake.st.borrow_mut().now += 5000;
    fake.st
        .borrow_mut()
        .touch(10_001, &[("Cf$_Remark", json!("late"))]);
    host.poll(&ifs);
    assert_eq!(host.items.len(), before + 1, "{paging}");
    assert_eq!(host.items.last().unwrap().0, "10001");
    host.poll(&ifs);
    assert_eq!(host.items.len(), before + 1, "{paging}");
}

#[test]
fn keyset_poll_sees_every_record_once_per_version() {
    run_poll_scenario("keyset");
}

#[test]
fn next_link_poll_recovers_from_shifted_pages() {
    run_poll_scenario("next-link");
}

#[test]
fn skip_poll_recovers_from_shifted_pages() {
    run_poll_scenario("skip");
}

#[test]
fn following_next_links_blindly_would_lose_a_record() {
    // The failure the detector exists for: with plain offset paging, closing 10004 during the
    // poll shifts the pages and one still-ready record is never served.
    let s = settings(&[("poll.paging", "next-link")]);
    let fake = FakeIfs::new(seeded(14));
    meddle(&fake);
    let ifs = Ifs { s: &s, t: &fake };
    let mut url = Some(format!(
        "{ORIGIN}/main/ifsapplications/projection/v1/ShipmentHandling.svc/ShipmentSet?$filter=Objstate%20eq%20IfsApp.ShipmentHandling.ShipmentState%27Completed%27&$orderby=LastActivityDate%20asc,ShipmentId%20asc"
    ));
    let mut ids = BTreeSet::new();
    while let Some(u) = url.take() {
        let c = ifs.collection(&u, "list").unwrap();
        ids.extend(c.value.iter().map(|r| r["ShipmentId"].to_string()));
        url = c.next_link;
    }
    assert!(
        !ids.is_superset(&ready_ids(&fake)),
        "the scenario no longer shifts pages"
    );
}

#[test]
fn poll_requests_are_well_formed() {
    let s = settings(&[("sites", "AC1,O'Hare"), ("company", "ACME-US")]);
    let fake = FakeIfs::new(seeded(5));
    let ifs = Ifs { s: &s, t: &fake };
    let page = poll::list_ready(&ifs, None, None).unwrap();
    let reqs = fake.requests();
    let first = &reqs[0].url;
    assert!(first.starts_with(&format!(
        "{ORIGIN}/main/ifsapplications/projection/v1/ShipmentHandling.svc/ShipmentSet?$filter="
    )));
    assert!(
        first.contains("Objstate%20eq%20IfsApp.ShipmentHandling.ShipmentState%27Completed%27"),
        "{first}"
    );
    assert!(
        first.contains("Contract%20eq%20%27O%27%27Hare%27"),
        "{first}"
    );
    assert!(first.contains("Company%20eq%20%27ACME-US%27"), "{first}");
    assert!(
        first.contains("&$orderby=LastActivityDate%20asc%2CShipmentId%20asc&$top=4"),
        "{first}"
    );
    assert_eq!(reqs[0].header_value("prefer"), Some("odata.maxpagesize=4"));
    // Handling units of the whole page in one request.
    assert!(reqs[1].url.contains("/HandlingUnitSet?$filter=ShipmentId%20eq%2010001%20or%20ShipmentId%20eq%2010002%20or%20ShipmentId%20eq%2010003"), "{}", reqs[1].url);
    // The next page continues strictly after the last (timestamp, key) read.
    let next = page.next_page.unwrap();
    poll::list_ready(&ifs, None, Some(next)).unwrap();
    let second = &fake.requests()[2].url;
    assert!(second.contains("LastActivityDate%20gt%202026-03-01T08%3A00%3A00Z%20or%20%28LastActivityDate%20eq%202026-03-01T08%3A00%3A00Z%20and%20ShipmentId%20gt%2010003%29"), "{second}");
    // A committed cursor asks from its timestamp minus the overlap.
    let cursor = poll::Cursor {
        v: 1,
        ts: Some(t0() + 120_000),
        seen: vec![],
    }
    .encode();
    poll::list_ready(&ifs, Some(cursor), None).unwrap();
    let third = &fake
        .requests()
        .iter()
        .rev()
        .find(|r| r.url.contains("ShipmentSet?"))
        .unwrap()
        .url
        .clone();
    assert!(
        third.contains("LastActivityDate%20ge%202026-03-01T08%3A01%3A00Z"),
        "{third}"
    );
}

#[test]
fn a_record_without_postal_code_fails_alone() {
    let s = settings(&[("poll.page-size", "100")]);
    let mut st = seeded(6);
    st.shipments
        .get_mut(&10_003)
        .unwrap()
        .f
        .insert("ReceiverZipCode".into(), Value::Null);
    let fake = FakeIfs::new(st);
    let ifs = Ifs { s: &s, t: &fake };
    let mut host = Host::default();
    host.poll(&ifs);
    assert_eq!(host.items.len(), 5);
    assert_eq!(host.errors.len(), 1);
    match &host.errors[0] {
        (id, Error::InvalidInput(f)) => {
            assert_eq!(id, "10003");
            assert_eq!(f.subject, "shipment 10003");
            assert_eq!(f.field, "ReceiverZipCode");
        }
        other => panic!("{other:?}"),
    }
    // Fixing the record delivers it in the next poll.
    fake.st
        .borrow_mut()
        .touch(10_003, &[("ReceiverZipCode", json!("94107"))]);
    host.poll(&ifs);
    assert_eq!(host.items.last().unwrap().0, "10003");
}

#[test]
fn client_side_state_filter_and_bad_tokens() {
    let s = settings(&[("poll.state-filter", "client"), ("poll.page-size", "100")]);
    let fake = FakeIfs::new(seeded(4));
    let ifs = Ifs { s: &s, t: &fake };
    let mut host = Host::default();
    host.poll(&ifs);
    assert!(!fake.requests()[0].url.contains("Objstate"));
    assert_eq!(host.ids(), ready_ids(&fake));
    assert!(
        matches!(poll::list_ready(&ifs, Some("garbage".into()), None), Err(Error::InvalidInput(f)) if f.field == "cursor")
    );
    assert!(
        matches!(poll::list_ready(&ifs, None, Some("{}".into())), Err(Error::InvalidInput(f)) if f.field == "page")
    );
}

#[test]
fn next_links_to_other_hosts_are_refused() {
    let s = settings(&[("poll.paging", "next-link")]);
    let fake = FakeIfs::new(seeded(8));
    let ifs = Ifs { s: &s, t: &fake };
    let page = poll::list_ready(&ifs, None, None).unwrap();
    let tok = page
        .next_page
        .unwrap()
        .replace("http://ifs.test:8080", "http://evil.test");
    assert!(
        matches!(poll::list_ready(&ifs, None, Some(tok)), Err(Error::Internal(m)) if m.contains("leaves the configured service"))
    );
}

#[test]
fn get_shipment_maps_parcels_and_version() {
    let s = settings(&[]);
    let fake = FakeIfs::new(seeded(3));
    let ifs = Ifs { s: &s, t: &fake };
    let sh = ifs.get_shipment("10002").unwrap();
    assert_eq!(sh.version, "W/\"10002:1\"");
    assert_eq!(sh.parcels.len(), 1);
    let p = &sh.parcels[0];
    assert_eq!(
        (p.id.as_str(), p.weight.value, p.weight.unit),
        ("500001", 10.5, WeightUnit::Kilograms)
    );
    assert_eq!(p.dimensions.unwrap().unit, LengthUnit::Centimeters);
    assert!(
        matches!(ifs.get_shipment("99999"), Err(Error::NotFound(m)) if m.contains("ODP_RESOURCE_NOTFOUND"))
    );
    assert!(
        matches!(ifs.get_shipment("1 or 1"), Err(Error::InvalidInput(f)) if f.field == "ShipmentId")
    );
}

fn carrier_shipment(voided: bool) -> CarrierShipment {
    CarrierShipment {
        shipment_id: "1Z999AA10123456784".into(),
        tracking_numbers: vec!["1Z999AA10123456784".into(), "1Z999AA10123456795".into()],
        service: "03".into(),
        charges: Money {
            amount: "23.45".into(),
            currency: "USD".into(),
        },
        negotiated: true,
        reference: "10001".into(),
        voided,
        created_at: None,
    }
}

fn patches(fake: &FakeIfs) -> Vec<crate::transport::HttpRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == Method::Patch)
        .collect()
}

#[test]
fn concurrent_edit_is_resolved_by_rereading() {
    let s = settings(&[(
        "writeback.carrier-shipment-id-field",
        "Cf$_CarrierShipmentId",
    )]);
    let fake = FakeIfs::new(seeded(3));
    let mut edited = false;
    fake.hook(move |req, st| {
        if req.method == Method::Patch && !edited {
            edited = true;
            st.touch(
                10_001,
                &[("Cf$_Remark", json!("Checked by IFSAPP (another user)"))],
            );
        }
    });
    let ifs = Ifs { s: &s, t: &fake };
    let cs = carrier_shipment(false);
    writeback::update_shipment(&ifs, "10001", &|rec| {
        writeback::carrier_fields(&s, "10001", &cs, rec)
    })
    .unwrap();
    let p = patches(&fake);
    assert_eq!(p.len(), 2, "one refused with 412, one applied");
    assert_eq!(p[0].header_value("if-match"), Some("W/\"10001:1\""));
    assert_eq!(p[1].header_value("if-match"), Some("W/\"10001:2\""));
    let body: Value = serde_json::from_slice(p[1].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"ProNo": "1Z999AA10123456784", "Cf$_CarrierShipmentId": "1Z999AA10123456784"})
    );
    let rec = fake.st.borrow().shipments[&10_001].f.clone();
    assert_eq!(rec["ProNo"], "1Z999AA10123456784");
    assert_eq!(
        rec["Cf$_Remark"], "Checked by IFSAPP (another user)",
        "the other user's change is kept"
    );
    // Writing the same again is a no-op: no PATCH.
    writeback::update_shipment(&ifs, "10001", &|rec| {
        writeback::carrier_fields(&s, "10001", &cs, rec)
    })
    .unwrap();
    assert_eq!(patches(&fake).len(), 2);
    // Voiding clears what still holds this shipment's number.
    let voided = carrier_shipment(true);
    writeback::update_shipment(&ifs, "10001", &|rec| {
        writeback::carrier_fields(&s, "10001", &voided, rec)
    })
    .unwrap();
    assert_eq!(fake.st.borrow().shipments[&10_001].f["ProNo"], Value::Null);
}

#[test]
fn endless_edits_end_in_conflict() {
    let s = settings(&[("writeback.max-attempts", "3")]);
    let fake = FakeIfs::new(seeded(1));
    fake.hook(|req, st| {
        if req.method == Method::Patch {
            st.touch(10_001, &[("Cf$_Remark", json!("again"))]);
        }
    });
    let ifs = Ifs { s: &s, t: &fake };
    let cs = carrier_shipment(false);
    let r = writeback::update_shipment(&ifs, "10001", &|rec| {
        writeback::carrier_fields(&s, "10001", &cs, rec)
    });
    assert!(matches!(r, Err(Error::Conflict(m)) if m.contains("412")));
    assert_eq!(patches(&fake).len(), 3);
    assert!(
        patches(&fake)
            .iter()
            .all(|p| p.header_value("if-match").is_some())
    );
}

#[test]
fn tracking_is_written_into_configured_fields() {
    let s = settings(&[]);
    let fake = FakeIfs::new(seeded(1));
    let ifs = Ifs { s: &s, t: &fake };
    let ev = TrackingEvent {
        tracking_number: "1Z999AA10123456784".into(),
        status: TrackingStatus::Delivered,
        carrier_code: "FS".into(),
        description: "Delivered".into(),
        occurred_at: parse_timestamp("2026-03-03T14:05:00Z").unwrap(),
        location: Some("San Francisco, CA, US".into()),
        delivered_at: Some(parse_timestamp("2026-03-03T14:04:00Z").unwrap()),
        received_by: Some("DOCK".into()),
    };
    let fields = writeback::tracking_fields(&s, &ev).unwrap();
    assert_eq!(
        Value::Object(fields.clone()),
        json!({
            "Cf$_TrackingStatus": "Delivered", "Cf$_TrackingEventCode": "FS",
            "Cf$_TrackingLastEvent": "Delivered, San Francisco, CA, US",
            "Cf$_TrackingEventDate": "2026-03-03T14:05:00Z", "Cf$_DeliveredDate": "2026-03-03T14:04:00Z",
        })
    );
    writeback::update_shipment(&ifs, "10001", &|_| Ok(fields.clone())).unwrap();
    writeback::update_shipment(&ifs, "10001", &|_| Ok(fields.clone())).unwrap();
    assert_eq!(patches(&fake).len(), 1, "the second write is a no-op");
    let date_only = settings(&[
        ("writeback.date-format", "date"),
        ("writeback.status-field", ""),
    ]);
    let f = writeback::tracking_fields(
        &date_only,
        &TrackingEvent {
            status: TrackingStatus::InTransit,
            ..ev
        },
    )
    .unwrap();
    assert_eq!(f.get("Cf$_TrackingEventDate"), Some(&json!("2026-03-03")));
    assert!(!f.contains_key("Cf$_TrackingStatus") && !f.contains_key("Cf$_DeliveredDate"));
}

#[test]
fn missing_if_match_support_is_a_bug_report() {
    // A server answering 428 to our PATCH means we sent no usable If-Match: report, don't retry.
    let s = settings(&[]);
    let fake = FakeIfs::new(seeded(1));
    let ifs = Ifs { s: &s, t: &fake };
    let req = crate::transport::HttpRequest::new(Method::Patch, ifs.shipment_url("10001").unwrap())
        .json(&json!({"ProNo": "x"}));
    assert!(matches!(ifs.send(req, "PATCH"), Err(Error::Internal(m)) if m.starts_with("bug:")));
}

fn charge(reference: &str, currency: &str) -> FreightCharge {
    FreightCharge {
        erp_id: "10001".into(),
        order_ref: "C1000012000".into(),
        amount: Money {
            amount: "23.45".into(),
            currency: currency.into(),
        },
        reference: reference.into(),
        cost_center: Some("CC-400".into()),
        code_parts: vec![CodePart {
            name: "CodeC".into(),
            value: "PRJ-7".into(),
        }],
    }
}

#[test]
fn replayed_freight_posts_one_charge() {
    let s = settings(&[]);
    let fake = FakeIfs::new(seeded(1));
    let ifs = Ifs { s: &s, t: &fake };
    assert_eq!(
        freight::record(&ifs, &charge("1Z999AA10123456784", "USD")).unwrap(),
        FreightOutcome::Posted
    );
    assert_eq!(
        freight::record(&ifs, &charge("1Z999AA10123456784", "USD")).unwrap(),
        FreightOutcome::AlreadyPosted
    );
    assert_eq!(
        freight::record(&ifs, &charge("1Z999AA10123456795", "USD")).unwrap(),
        FreightOutcome::Posted
    );
    let charges = fake.st.borrow().charges["C1000012000"].clone();
    assert_eq!(charges.len(), 2);
    let c = &charges[0];
    assert_eq!(
        Value::Object(c.clone()),
        json!({"ChargeType": "FREIGHT", "ChargeAmount": 23.45, "ChargedQty": 1, "SalesUnitMeas": "EA",
               "Cf$_ExternalRef": "1Z999AA10123456784", "ShipmentId": 10001, "CodeB": "CC-400", "CodeC": "PRJ-7",
               "OrderNo": "C1000012000", "SequenceNo": 1, "CurrencyCode": "USD"})
    );
    let lookups: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method == Method::Get && r.url.contains("ChargeArray"))
        .map(|r| r.url.clone())
        .collect();
    assert!(lookups[0].ends_with("CustomerOrderSet(OrderNo='C1000012000')/CustomerOrderChargeArray?$filter=Cf%24_ExternalRef%20eq%20%271Z999AA10123456784%27"), "{}", lookups[0]);
}

#[test]
fn freight_problems_are_reported() {
    let s = settings(&[]);
    let fake = FakeIfs::new(seeded(1));
    let ifs = Ifs { s: &s, t: &fake };
    assert!(
        matches!(freight::record(&ifs, &charge("R1", "EUR")), Err(Error::InvalidInput(f)) if f.field == "amount.currency")
    );
    let mut bad = charge("R1", "USD");
    bad.amount.amount = "1e3".into();
    assert!(
        matches!(freight::record(&ifs, &bad), Err(Error::InvalidInput(f)) if f.field == "amount")
    );
    let mut missing = charge("R1", "USD");
    missing.order_ref = "C404".into();
    assert!(matches!(
        freight::record(&ifs, &missing),
        Err(Error::NotFound(_))
    ));
    let no_type = settings(&[("freight.charge-type", "")]);
    let ifs2 = Ifs {
        s: &no_type,
        t: &fake,
    };
    assert!(
        matches!(freight::record(&ifs2, &charge("R1", "USD")), Err(Error::InvalidInput(f)) if f.field == "freight.charge-type")
    );
    assert!(
        fake.st
            .borrow()
            .charges
            .get("C1000012000")
            .is_none_or(Vec::is_empty)
    );
    assert_eq!(freight::decimal("23.45"), Some(23.45));
    assert_eq!(freight::decimal("-0.5"), Some(-0.5));
    assert_eq!(freight::decimal("12"), Some(12.0));
    for b in ["", "1.", ".5", "1,5", "1e3", "NaN", "+1"] {
        assert_eq!(freight::decimal(b), None, "{b}");
    }
}
