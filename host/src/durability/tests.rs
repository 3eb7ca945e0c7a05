//! The durability core against an in-memory store and a scripted fake carrier: every branch of
//! memoization and exactly-once creation, reconciliation and voiding of duplicates included.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::*;
use crate::clock::SystemClock;
use crate::db::{ExchangeQuery, Journal, NewStep, SqliteStore, Store};
use crate::runtime::bindings::types::{
    Address, CarrierShipment, Error, Money, RetryInfo, ShipmentRequest,
};

const ITEM: &str = "item-1";
const CARRIER: &str = "ups";

/// What the fake carrier was asked, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Create(String),
    Find(String),
    Void(String),
}

/// A carrier whose answers are scripted per call kind; an unscripted call is a test bug and
/// answers `internal`.
#[derive(Default)]
struct FakeCarrier {
    calls: Mutex<Vec<Call>>,
    creates: Mutex<VecDeque<Result<CarrierShipment, Failure>>>,
    finds: Mutex<VecDeque<Result<Vec<CarrierShipment>, Failure>>>,
    voids: Mutex<VecDeque<Result<(), Failure>>>,
}

fn next<T>(queue: &Mutex<VecDeque<Result<T, Failure>>>, what: &str) -> Result<T, Failure> {
    queue
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| Err(plugin_error(Error::Internal(format!("unscripted {what}")))))
}

impl FakeCarrier {
    fn on_create(&self, answer: Result<CarrierShipment, Failure>) -> &Self {
        self.creates.lock().unwrap().push_back(answer);
        self
    }
    fn on_find(&self, answer: Result<Vec<CarrierShipment>, Failure>) -> &Self {
        self.finds.lock().unwrap().push_back(answer);
        self
    }
    fn on_void(&self, answer: Result<(), Failure>) -> &Self {
        self.voids.lock().unwrap().push_back(answer);
        self
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl CarrierCalls for FakeCarrier {
    async fn create_shipment(&self, request: &ShipmentRequest) -> Result<CarrierShipment, Failure> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Create(request.idempotency_key.clone()));
        next(&self.creates, "create")
    }
    async fn find_shipments(&self, reference: &str) -> Result<Vec<CarrierShipment>, Failure> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Find(reference.to_owned()));
        next(&self.finds, "find")
    }
    async fn void_shipment(&self, shipment_id: &str) -> Result<(), Failure> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Void(shipment_id.to_owned()));
        next(&self.voids, "void")
    }
}

/// A failure that says nothing happened at the carrier.
fn plugin_error(error: Error) -> Failure {
    Failure::definite(error)
}

/// A failure after which the carrier may have acted (what the runtime makes of `unavailable`,
/// `internal`, a timeout or a trap).
fn unavailable() -> Failure {
    Failure {
        error: Error::Unavailable(RetryInfo {
            message: "UPS answered 503".into(),
            retry_after_ms: None,
        }),
        in_doubt: true,
    }
}

fn request() -> ShipmentRequest {
    ShipmentRequest {
        idempotency_key: "SHP-1#1".into(),
        reference: "SHP-1".into(),
        order_ref: "CO-1".into(),
        service: "03".into(),
        ship_to: Address {
            name: "Acme".into(),
            attention: None,
            lines: vec!["1 Main St".into()],
            city: "Springfield".into(),
            state: Some("IL".into()),
            postal_code: "62701".into(),
            country: "US".into(),
            phone: None,
            email: None,
        },
        parcels: Vec::new(),
        label_format: None,
        site: None,
    }
}

fn booking(id: &str, created_at: Option<i64>, voided: bool) -> CarrierShipment {
    CarrierShipment {
        shipment_id: id.into(),
        tracking_numbers: vec![format!("1Z{id}")],
        service: "03".into(),
        charges: Money {
            amount: "12.34".into(),
            currency: "USD".into(),
        },
        negotiated: false,
        reference: "SHP-1".into(),
        voided,
        created_at,
    }
}

fn store() -> Arc<SqliteStore> {
    Arc::new(SqliteStore::in_memory().unwrap())
}

fn log(store: &Arc<SqliteStore>, attempt: Option<u32>) -> CallLog {
    CallLog::new(
        store.clone(),
        Arc::new(SystemClock),
        "acme",
        "shipment-sync",
        attempt.map(|attempt| WorkRef {
            item_id: ITEM.into(),
            attempt,
        }),
    )
}

/// `(attempt, operation, status)` of every step of the item, in order.
fn steps(store: &SqliteStore) -> Vec<(u32, String, StepStatus)> {
    store
        .steps(ITEM)
        .unwrap()
        .into_iter()
        .map(|s| (s.attempt, s.operation, s.status))
        .collect()
}

fn step(attempt: u32, op: &str, status: StepStatus) -> (u32, String, StepStatus) {
    (attempt, op.to_owned(), status)
}

const CREATE: &str = "carrier.create-shipment";
const FIND: &str = "carrier.find-shipments";
const VOID: &str = "carrier.void-shipment";

#[tokio::test]
async fn a_created_shipment_is_answered_from_the_journal_on_the_next_run() {
    let store = store();
    let carrier = FakeCarrier::default();
    carrier.on_create(Ok(booking("A", Some(1), false)));

    let first = create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
        .await
        .unwrap();
    let second = create_exactly_once(&mut log(&store, Some(2)), &carrier, CARRIER, request())
        .await
        .unwrap();

    assert_eq!(first, second);
    assert_eq!(carrier.calls(), vec![Call::Create("SHP-1#1".into())]);
    assert_eq!(
        steps(&store),
        vec![
            step(1, CREATE, StepStatus::Ok),
            step(2, CREATE, StepStatus::Replayed)
        ]
    );
    let journaled = store.steps(ITEM).unwrap();
    assert_eq!(journaled[0].callee.as_deref(), Some(CARRIER));
    assert_eq!(journaled[0].step_key, "idempotency:SHP-1#1");
    assert_eq!(journaled[1].output, journaled[0].output);
}

#[tokio::test]
async fn a_permanent_refusal_is_not_reconciled_and_the_next_run_creates_again() {
    let store = store();
    let carrier = FakeCarrier::default();
    carrier
        .on_create(Err(plugin_error(Error::Denied("bad account".into()))))
        .on_create(Ok(booking("A", Some(1), false)));

    let err = create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    create_exactly_once(&mut log(&store, Some(2)), &carrier, CARRIER, request())
        .await
        .unwrap();

    assert_eq!(
        carrier.calls(),
        vec![
            Call::Create("SHP-1#1".into()),
            Call::Create("SHP-1#1".into())
        ],
        "a refusal says nothing was created: no find-shipments"
    );
    assert_eq!(
        steps(&store),
        vec![
            step(1, CREATE, StepStatus::Error),
            step(2, CREATE, StepStatus::Ok)
        ]
    );
}

#[tokio::test]
async fn a_failure_in_doubt_is_journaled_unknown_a_definite_one_error() {
    for (failure, status) in [
        (unavailable(), StepStatus::Unknown),
        (
            plugin_error(Error::Conflict("busy".into())),
            StepStatus::Error,
        ),
    ] {
        let store = store();
        let carrier = FakeCarrier::default();
        let error = failure.error.clone();
        carrier.on_create(Err(failure));
        let got = create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
            .await
            .unwrap_err();
        assert_eq!(got, error, "the flow gets the connector's error value");
        assert_eq!(steps(&store), vec![step(1, CREATE, status)]);
        let journaled = store.steps(ITEM).unwrap();
        assert_eq!(journaled[0].error, Some(error.to_string_lossy()));
    }
}

#[tokio::test]
async fn an_unknown_outcome_found_at_the_carrier_is_reconciled_not_created_again() {
    let store = store();
    let carrier = FakeCarrier::default();
    carrier
        .on_create(Err(unavailable()))
        .on_find(Ok(vec![booking("A", Some(1), false)]));

    create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
        .await
        .unwrap_err();
    let kept = create_exactly_once(&mut log(&store, Some(2)), &carrier, CARRIER, request())
        .await
        .unwrap();

    assert_eq!(kept.shipment_id, "A");
    assert_eq!(
        carrier.calls(),
        vec![Call::Create("SHP-1#1".into()), Call::Find("SHP-1".into())]
    );
    assert_eq!(
        steps(&store),
        vec![
            step(1, CREATE, StepStatus::Unknown),
            step(2, FIND, StepStatus::Ok),
            step(2, CREATE, StepStatus::Reconciled),
        ]
    );
    // A third run answers from the reconciled step without asking the carrier again.
    let again = create_exactly_once(&mut log(&store, Some(3)), &carrier, CARRIER, request())
        .await
        .unwrap();
    assert_eq!(again, kept);
    assert_eq!(carrier.calls().len(), 2);
}

#[tokio::test]
async fn an_intent_left_by_a_crash_with_nothing_at_the_carrier_creates() {
    let store = store();
    // The host died during the call: the intent is journaled, its end never was.
    store
        .step_begin(&NewStep {
            item_id: ITEM,
            attempt: 1,
            seq: 1,
            operation: CREATE,
            step_key: "idempotency:SHP-1#1",
            callee: CARRIER,
            input: &serde_json::json!({}),
            started_ms: 0,
        })
        .unwrap();
    let carrier = FakeCarrier::default();
    carrier
        .on_find(Ok(vec![booking("OLD", Some(1), true)]))
        .on_create(Ok(booking("B", Some(2), false)));

    let created = create_exactly_once(&mut log(&store, Some(2)), &carrier, CARRIER, request())
        .await
        .unwrap();

    assert_eq!(created.shipment_id, "B");
    assert_eq!(
        carrier.calls(),
        vec![Call::Find("SHP-1".into()), Call::Create("SHP-1#1".into())],
        "only voided bookings exist: they do not count, so the shipment is created"
    );
    assert_eq!(
        steps(&store),
        vec![
            step(1, CREATE, StepStatus::Started),
            step(2, FIND, StepStatus::Ok),
            step(2, CREATE, StepStatus::Ok),
        ]
    );
}

#[tokio::test]
async fn reconciliation_keeps_the_oldest_booking_and_voids_the_others() {
    let store = store();
    let carrier = FakeCarrier::default();
    carrier
        .on_create(Err(unavailable()))
        .on_find(Ok(vec![
            booking("UNDATED", None, false),
            booking("NEWER", Some(20), false),
            booking("GONE", Some(1), true),
            booking("OLDEST", Some(10), false),
        ]))
        .on_void(Ok(()))
        .on_void(Ok(()));

    create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
        .await
        .unwrap_err();
    let kept = create_exactly_once(&mut log(&store, Some(2)), &carrier, CARRIER, request())
        .await
        .unwrap();

    assert_eq!(
        kept.shipment_id, "OLDEST",
        "the oldest live booking wins; voided ones and a missing creation time sort after"
    );
    assert_eq!(
        carrier.calls(),
        vec![
            Call::Create("SHP-1#1".into()),
            Call::Find("SHP-1".into()),
            Call::Void("NEWER".into()),
            Call::Void("UNDATED".into()),
        ]
    );
    assert_eq!(
        steps(&store),
        vec![
            step(1, CREATE, StepStatus::Unknown),
            step(2, FIND, StepStatus::Ok),
            step(2, VOID, StepStatus::VoidedDuplicate),
            step(2, VOID, StepStatus::VoidedDuplicate),
            step(2, CREATE, StepStatus::Reconciled),
        ]
    );
    let voided = store.steps(ITEM).unwrap();
    assert_eq!(
        voided[2].output,
        Some(serde_json::json!({ "voided": "NEWER", "kept": "OLDEST" }))
    );
    assert_eq!(voided[2].step_key, "duplicate:NEWER");
}

#[tokio::test]
async fn a_failed_void_of_a_duplicate_fails_the_run_and_the_next_run_reconciles_again() {
    let store = store();
    let carrier = FakeCarrier::default();
    let both = vec![booking("A", Some(1), false), booking("B", Some(2), false)];
    carrier
        .on_create(Err(unavailable()))
        .on_find(Ok(both.clone()))
        .on_void(Err(unavailable()))
        .on_find(Ok(both))
        .on_void(Ok(()));

    create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
        .await
        .unwrap_err();
    let err = create_exactly_once(&mut log(&store, Some(2)), &carrier, CARRIER, request())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    let kept = create_exactly_once(&mut log(&store, Some(3)), &carrier, CARRIER, request())
        .await
        .unwrap();

    assert_eq!(kept.shipment_id, "A");
    assert_eq!(
        carrier
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Create(_)))
            .count(),
        1,
        "never created twice"
    );
    assert_eq!(
        steps(&store),
        vec![
            step(1, CREATE, StepStatus::Unknown),
            step(2, FIND, StepStatus::Ok),
            step(2, VOID, StepStatus::Error),
            step(3, FIND, StepStatus::Ok),
            step(3, VOID, StepStatus::VoidedDuplicate),
            step(3, CREATE, StepStatus::Reconciled),
        ]
    );
}

#[tokio::test]
async fn a_failed_lookup_creates_nothing() {
    let store = store();
    let carrier = FakeCarrier::default();
    carrier
        .on_create(Err(unavailable()))
        .on_find(Err(plugin_error(Error::RateLimited(RetryInfo {
            message: "slow down".into(),
            retry_after_ms: Some(2_000),
        }))));

    create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
        .await
        .unwrap_err();
    let err = create_exactly_once(&mut log(&store, Some(2)), &carrier, CARRIER, request())
        .await
        .unwrap_err();

    assert!(
        matches!(&err, Error::RateLimited(r) if r.retry_after_ms == Some(2_000)),
        "{err:?}"
    );
    assert_eq!(
        carrier.calls(),
        vec![Call::Create("SHP-1#1".into()), Call::Find("SHP-1".into())]
    );
    assert_eq!(
        steps(&store),
        vec![
            step(1, CREATE, StepStatus::Unknown),
            step(2, FIND, StepStatus::Error)
        ]
    );
}

#[tokio::test]
async fn a_journal_that_cannot_be_written_stops_the_call_before_the_carrier() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE steps")
        .unwrap();
    let carrier = FakeCarrier::default();

    let err = create_exactly_once(&mut log(&store, Some(1)), &carrier, CARRIER, request())
        .await
        .unwrap_err();

    assert!(
        matches!(&err, Error::Unavailable(r) if r.message.contains("journal")),
        "{err:?}"
    );
    assert!(
        carrier.calls().is_empty(),
        "nothing the journal cannot know"
    );
}

#[tokio::test]
async fn outside_a_work_item_a_creation_is_one_call_exchange_and_no_step() {
    let store = store();
    let carrier = FakeCarrier::default();
    carrier.on_create(Err(unavailable()));

    create_exactly_once(&mut log(&store, None), &carrier, CARRIER, request())
        .await
        .unwrap_err();

    assert!(store.steps(ITEM).unwrap().is_empty());
    let exchanges = store.exchanges(&ExchangeQuery::default()).unwrap();
    assert_eq!(exchanges.len(), 1);
    let e = &exchanges[0];
    assert_eq!(
        (e.kind.as_str(), e.operation.as_str(), e.target.as_str()),
        ("call", CREATE, CARRIER)
    );
    assert_eq!(e.plugin, "shipment-sync");
    assert!(e.outcome.starts_with("error: unavailable"), "{}", e.outcome);
}

#[tokio::test]
async fn writes_are_answered_by_input_and_reads_run_live() {
    let store = store();
    let runs = Mutex::new(0u32);
    let call = || async {
        *runs.lock().unwrap() += 1;
        Ok::<_, Failure>(serde_json::json!({ "charged": true }))
    };
    for attempt in 1..=2 {
        let mut log = log(&store, Some(attempt));
        let write: serde_json::Value = log
            .call(
                "ifs",
                "erp.record-freight-cost",
                Memo::ByInput,
                serde_json::json!({ "amount": "1" }),
                call,
            )
            .await
            .unwrap();
        assert_eq!(write, serde_json::json!({ "charged": true }));
        let _: serde_json::Value = log
            .call(
                "ifs",
                "erp.get-shipment",
                Memo::Live,
                serde_json::json!({ "erp-id": "SHP-1" }),
                call,
            )
            .await
            .unwrap();
    }
    // Another input is another write.
    let _: serde_json::Value = log(&store, Some(3))
        .call(
            "ifs",
            "erp.record-freight-cost",
            Memo::ByInput,
            serde_json::json!({ "amount": "2" }),
            call,
        )
        .await
        .unwrap();

    assert_eq!(
        *runs.lock().unwrap(),
        4,
        "write once, read twice, new write once"
    );
    assert_eq!(
        steps(&store),
        vec![
            step(1, "erp.record-freight-cost", StepStatus::Ok),
            step(1, "erp.get-shipment", StepStatus::Ok),
            step(2, "erp.record-freight-cost", StepStatus::Replayed),
            step(2, "erp.get-shipment", StepStatus::Ok),
            step(3, "erp.record-freight-cost", StepStatus::Ok),
        ]
    );
    let seqs: Vec<u32> = store.steps(ITEM).unwrap().iter().map(|s| s.seq).collect();
    assert_eq!(seqs, vec![1, 2, 1, 2, 1], "positions count per run");
    assert!(
        store
            .exchanges(&ExchangeQuery::default())
            .unwrap()
            .is_empty(),
        "inside a work item a call is a step, not also an exchange"
    );
}

#[tokio::test]
async fn a_failed_write_is_not_memoized() {
    let store = store();
    let runs = Mutex::new(0u32);
    for attempt in 1..=2 {
        let result: Result<serde_json::Value, Error> = log(&store, Some(attempt))
            .call(
                "ifs",
                "erp.record-tracking",
                Memo::ByInput,
                serde_json::json!({ "erp-id": "SHP-1" }),
                || async {
                    *runs.lock().unwrap() += 1;
                    Err(plugin_error(Error::Conflict("412".into())))
                },
            )
            .await;
        assert!(matches!(result, Err(Error::Conflict(_))));
    }
    assert_eq!(*runs.lock().unwrap(), 2);
    assert_eq!(
        steps(&store),
        vec![
            step(1, "erp.record-tracking", StepStatus::Error),
            step(2, "erp.record-tracking", StepStatus::Error),
        ]
    );
}

#[test]
fn step_status_names_round_trip_and_unknown_names_are_in_doubt() {
    for status in [
        StepStatus::Started,
        StepStatus::Ok,
        StepStatus::Error,
        StepStatus::Unknown,
        StepStatus::Replayed,
        StepStatus::Reconciled,
        StepStatus::VoidedDuplicate,
    ] {
        assert_eq!(status.as_str().parse::<StepStatus>(), Ok(status));
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            serde_json::json!(status.as_str())
        );
    }
    assert!(StepStatus::Started.in_doubt() && StepStatus::Unknown.in_doubt());
    assert!(StepStatus::Ok.has_result() && StepStatus::Reconciled.has_result());
    assert!(!StepStatus::Replayed.has_result() && !StepStatus::Error.in_doubt());
    assert!("exploded".parse::<StepStatus>().is_err());
}
