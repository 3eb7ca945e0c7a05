//! The forward-only tracking state machine, per parcel and per shipment.
//!
//! Per parcel we keep the furthest stage reached (`manifested < in-transit < out-for-delivery <
//! delivered`), the time of the newest accepted event and the fingerprints of the events
//! accepted at that time. An event is:
//! - ignored when the parcel is delivered or voided (terminal), when it is older than the
//!   newest accepted event (out of order), or when the same event was already accepted
//!   (duplicate: same time, status and carrier code);
//! - an `exception` newer than everything accepted is recorded (active until progress), without
//!   moving the stage;
//! - `voided` ends tracking of the parcel;
//! - a progress event is accepted when it moves the stage forward, or when it reaches at least
//!   the current stage while an exception is active (the parcel moves again).
//!
//! The shipment's status is derived from its parcels: voided when every parcel is voided,
//! exception while a live parcel has an active exception, else the lowest stage of the live
//! parcels (delivered only when every live parcel is delivered). The ERP is written when that
//! status changes, or when a newer exception is recorded.

use serde::{Deserialize, Serialize};

use mlc_plugin_sdk::{TrackingEvent, TrackingStatus};

/// How far a parcel got.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Label created.
    Manifested,
    /// In the carrier's network.
    InTransit,
    /// On the vehicle for delivery.
    OutForDelivery,
    /// Delivered.
    Delivered,
}

/// The status of a shipment as written to the ERP (the WIT `tracking-status`, storable).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Label created.
    Manifested,
    /// In transit.
    InTransit,
    /// Out for delivery.
    OutForDelivery,
    /// Delivered.
    Delivered,
    /// An exception is active.
    Exception,
    /// Voided.
    Voided,
}

impl Status {
    /// From the WIT status.
    pub fn from_wit(s: TrackingStatus) -> Status {
        match s {
            TrackingStatus::Manifested => Status::Manifested,
            TrackingStatus::InTransit => Status::InTransit,
            TrackingStatus::OutForDelivery => Status::OutForDelivery,
            TrackingStatus::Delivered => Status::Delivered,
            TrackingStatus::Exception => Status::Exception,
            TrackingStatus::Voided => Status::Voided,
        }
    }

    /// To the WIT status.
    pub fn to_wit(self) -> TrackingStatus {
        match self {
            Status::Manifested => TrackingStatus::Manifested,
            Status::InTransit => TrackingStatus::InTransit,
            Status::OutForDelivery => TrackingStatus::OutForDelivery,
            Status::Delivered => TrackingStatus::Delivered,
            Status::Exception => TrackingStatus::Exception,
            Status::Voided => TrackingStatus::Voided,
        }
    }

    fn stage(self) -> Option<Stage> {
        match self {
            Status::Manifested => Some(Stage::Manifested),
            Status::InTransit => Some(Stage::InTransit),
            Status::OutForDelivery => Some(Stage::OutForDelivery),
            Status::Delivered => Some(Stage::Delivered),
            Status::Exception | Status::Voided => None,
        }
    }

    fn of_stage(stage: Stage) -> Status {
        match stage {
            Stage::Manifested => Status::Manifested,
            Stage::InTransit => Status::InTransit,
            Stage::OutForDelivery => Status::OutForDelivery,
            Stage::Delivered => Status::Delivered,
        }
    }
}

/// A tracking event in storable form (the WIT `tracking-event`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct StoredEvent {
    /// Tracking number.
    pub tracking_number: String,
    /// Status.
    pub status: Status,
    /// Carrier code.
    pub carrier_code: String,
    /// Description.
    pub description: String,
    /// Event time (ms).
    pub occurred_at: i64,
    /// Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Delivery time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    /// Who signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
}

impl StoredEvent {
    /// From the WIT event.
    pub fn from_wit(e: &TrackingEvent) -> StoredEvent {
        StoredEvent {
            tracking_number: e.tracking_number.trim().to_owned(),
            status: Status::from_wit(e.status),
            carrier_code: e.carrier_code.clone(),
            description: e.description.clone(),
            occurred_at: e.occurred_at,
            location: e.location.clone(),
            delivered_at: e.delivered_at,
            received_by: e.received_by.clone(),
        }
    }

    /// To the WIT event.
    pub fn to_wit(&self) -> TrackingEvent {
        TrackingEvent {
            tracking_number: self.tracking_number.clone(),
            status: self.status.to_wit(),
            carrier_code: self.carrier_code.clone(),
            description: self.description.clone(),
            occurred_at: self.occurred_at,
            location: self.location.clone(),
            delivered_at: self.delivered_at,
            received_by: self.received_by.clone(),
        }
    }

    fn fingerprint(&self) -> String {
        format!("{:?}/{}", self.status, self.carrier_code)
    }
}

/// Tracking state of one parcel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct ParcelTrack {
    /// Its tracking number.
    pub tracking_number: String,
    /// The furthest stage reached; none before the first event.
    pub stage: Option<Stage>,
    /// Time of the newest accepted event.
    pub last_at: Option<i64>,
    /// Fingerprints of the events accepted at `last_at`.
    #[serde(default)]
    pub last_keys: Vec<String>,
    /// Time of the active exception, if any.
    #[serde(default)]
    pub exception_at: Option<i64>,
    /// When it was delivered.
    #[serde(default)]
    pub delivered_at: Option<i64>,
    /// Whether it was voided.
    #[serde(default)]
    pub voided: bool,
}

impl ParcelTrack {
    /// A parcel with no event yet.
    pub fn new(tracking_number: &str) -> ParcelTrack {
        ParcelTrack {
            tracking_number: tracking_number.to_owned(),
            stage: None,
            last_at: None,
            last_keys: Vec::new(),
            exception_at: None,
            delivered_at: None,
            voided: false,
        }
    }

    /// Delivered or voided: nothing more to track.
    pub fn is_done(&self) -> bool {
        self.voided || self.stage == Some(Stage::Delivered)
    }
}

/// Tracking state of one ERP shipment (`ship/<erp-id>`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct ShipmentTrack {
    /// The ERP shipment id.
    pub erp_id: String,
    /// The carrier shipment id.
    pub carrier_shipment_id: String,
    /// Its parcels, in order.
    pub parcels: Vec<ParcelTrack>,
    /// The status last written to the ERP.
    #[serde(default)]
    pub status: Option<Status>,
    /// The event last written to the ERP.
    #[serde(default)]
    pub last_written: Option<StoredEvent>,
}

/// Why an event was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The number belongs to no shipment of this flow.
    Unknown,
    /// The parcel is delivered or voided.
    Terminal,
    /// Older than an event already accepted.
    OutOfOrder,
    /// Already accepted.
    Duplicate,
    /// Does not move the parcel forward.
    NotForward,
}

/// What to do with one event.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Nothing changes.
    Ignore(Ignored),
    /// The parcel advanced; store the new state; the shipment's status did not change.
    Store(ShipmentTrack),
    /// Write `event` to the ERP, then store the new state.
    Write {
        /// The new state (with `status` and `last_written` set).
        state: ShipmentTrack,
        /// The event to write, with the shipment's status.
        event: StoredEvent,
    },
}

impl ShipmentTrack {
    /// A fresh shipment with no events.
    pub fn new(
        erp_id: &str,
        carrier_shipment_id: &str,
        tracking_numbers: &[String],
    ) -> ShipmentTrack {
        ShipmentTrack {
            erp_id: erp_id.to_owned(),
            carrier_shipment_id: carrier_shipment_id.to_owned(),
            parcels: tracking_numbers
                .iter()
                .map(|tn| ParcelTrack::new(tn))
                .collect(),
            status: None,
            last_written: None,
        }
    }

    /// The parcel with this tracking number.
    pub fn parcel(&self, tracking_number: &str) -> Option<&ParcelTrack> {
        self.parcels
            .iter()
            .find(|p| p.tracking_number == tracking_number)
    }

    /// Whether every parcel is delivered or voided.
    pub fn is_done(&self) -> bool {
        self.parcels.iter().all(ParcelTrack::is_done)
    }

    /// The shipment's status derived from its parcels.
    pub fn derived_status(&self) -> Option<Status> {
        let live: Vec<&ParcelTrack> = self.parcels.iter().filter(|p| !p.voided).collect();
        if live.is_empty() {
            return if self.parcels.is_empty() {
                None
            } else {
                Some(Status::Voided)
            };
        }
        if live
            .iter()
            .any(|p| p.exception_at.is_some() && p.stage != Some(Stage::Delivered))
        {
            return Some(Status::Exception);
        }
        let mut lowest = Stage::Delivered;
        for p in &live {
            lowest = lowest.min(p.stage?);
        }
        Some(Status::of_stage(lowest))
    }

    /// The latest delivery time of the live parcels.
    fn delivered_at(&self) -> Option<i64> {
        self.parcels
            .iter()
            .filter(|p| !p.voided)
            .filter_map(|p| p.delivered_at)
            .max()
    }

    /// Decides what `event` does to this shipment (pure).
    pub fn decide(&self, event: &StoredEvent) -> Decision {
        let mut next = self.clone();
        let Some(parcel) = next
            .parcels
            .iter_mut()
            .find(|p| p.tracking_number == event.tracking_number)
        else {
            return Decision::Ignore(Ignored::Unknown);
        };
        if parcel.is_done() {
            return Decision::Ignore(Ignored::Terminal);
        }
        let fingerprint = event.fingerprint();
        match parcel.last_at {
            Some(t) if event.occurred_at < t => return Decision::Ignore(Ignored::OutOfOrder),
            Some(t) if event.occurred_at == t && parcel.last_keys.contains(&fingerprint) => {
                return Decision::Ignore(Ignored::Duplicate);
            }
            _ => {}
        }
        let new_exception = match event.status {
            Status::Exception => {
                parcel.exception_at = Some(event.occurred_at);
                true
            }
            Status::Voided => {
                parcel.voided = true;
                false
            }
            progress => {
                let Some(stage) = progress.stage() else {
                    return Decision::Ignore(Ignored::NotForward);
                };
                let forward = match parcel.stage {
                    None => true,
                    Some(current) => {
                        stage > current || (parcel.exception_at.is_some() && stage >= current)
                    }
                };
                if !forward {
                    return Decision::Ignore(Ignored::NotForward);
                }
                parcel.stage = Some(stage);
                parcel.exception_at = None;
                if stage == Stage::Delivered {
                    parcel.delivered_at = Some(event.delivered_at.unwrap_or(event.occurred_at));
                }
                false
            }
        };
        if parcel.last_at == Some(event.occurred_at) {
            parcel.last_keys.push(fingerprint);
        } else {
            parcel.last_at = Some(event.occurred_at);
            parcel.last_keys = vec![fingerprint];
        }

        let derived = next.derived_status();
        let changed = derived.is_some() && derived != self.status;
        let exception_recorded = new_exception && derived == Some(Status::Exception);
        match derived {
            Some(status) if changed || exception_recorded => {
                let mut written = event.clone();
                written.status = status;
                written.delivered_at = if status == Status::Delivered {
                    next.delivered_at()
                } else {
                    None
                };
                next.status = Some(status);
                next.last_written = Some(written.clone());
                Decision::Write {
                    state: next,
                    event: written,
                }
            }
            _ => Decision::Store(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_772_000_000_000;
    const MIN: i64 = 60_000;

    fn ev(tn: &str, status: Status, code: &str, at: i64) -> StoredEvent {
        StoredEvent {
            tracking_number: tn.into(),
            status,
            carrier_code: code.into(),
            description: format!("{status:?}"),
            occurred_at: at,
            location: Some("Atlanta, GA, US".into()),
            delivered_at: None,
            received_by: None,
        }
    }

    fn one() -> ShipmentTrack {
        ShipmentTrack::new("1042", "1ZSHIP", &["1ZA".to_owned()])
    }

    /// Applies events in order; returns the final state and the statuses written.
    fn run(
        mut state: ShipmentTrack,
        events: &[StoredEvent],
    ) -> (ShipmentTrack, Vec<Status>, Vec<Decision>) {
        let mut written = Vec::new();
        let mut decisions = Vec::new();
        for e in events {
            let d = state.decide(e);
            match &d {
                Decision::Write { state: s, event } => {
                    written.push(event.status);
                    state = s.clone();
                }
                Decision::Store(s) => state = s.clone(),
                Decision::Ignore(_) => {}
            }
            decisions.push(d);
        }
        (state, written, decisions)
    }

    #[test]
    fn forward_path_writes_each_stage() {
        let (state, written, _) = run(
            one(),
            &[
                ev("1ZA", Status::Manifested, "MP", T0),
                ev("1ZA", Status::InTransit, "OR", T0 + MIN),
                ev("1ZA", Status::InTransit, "AR", T0 + 2 * MIN),
                ev("1ZA", Status::OutForDelivery, "OT", T0 + 3 * MIN),
                ev("1ZA", Status::Delivered, "FS", T0 + 4 * MIN),
            ],
        );
        assert_eq!(
            written,
            vec![
                Status::Manifested,
                Status::InTransit,
                Status::OutForDelivery,
                Status::Delivered
            ]
        );
        assert!(state.is_done());
        assert_eq!(state.parcels[0].delivered_at, Some(T0 + 4 * MIN));
        assert_eq!(
            state.last_written.as_ref().map(|e| e.delivered_at),
            Some(Some(T0 + 4 * MIN))
        );
    }

    #[test]
    fn duplicates_and_out_of_order_are_ignored() {
        let (state, written, d) = run(
            one(),
            &[
                ev("1ZA", Status::OutForDelivery, "OT", T0 + 3 * MIN),
                ev("1ZA", Status::OutForDelivery, "OT", T0 + 3 * MIN),
                ev("1ZA", Status::InTransit, "OR", T0 + MIN),
                ev("1ZA", Status::Exception, "X1", T0 + 2 * MIN),
            ],
        );
        assert_eq!(written, vec![Status::OutForDelivery]);
        assert_eq!(d[1], Decision::Ignore(Ignored::Duplicate));
        assert_eq!(d[2], Decision::Ignore(Ignored::OutOfOrder));
        assert_eq!(d[3], Decision::Ignore(Ignored::OutOfOrder));
        assert_eq!(state.status, Some(Status::OutForDelivery));
    }

    #[test]
    fn same_stage_later_scan_is_not_forward() {
        let (_, written, d) = run(
            one(),
            &[
                ev("1ZA", Status::InTransit, "OR", T0),
                ev("1ZA", Status::InTransit, "AR", T0 + MIN),
            ],
        );
        assert_eq!(written, vec![Status::InTransit]);
        assert_eq!(d[1], Decision::Ignore(Ignored::NotForward));
    }

    #[test]
    fn exception_is_recorded_and_progress_resumes() {
        let (state, written, _) = run(
            one(),
            &[
                ev("1ZA", Status::InTransit, "OR", T0),
                ev("1ZA", Status::Exception, "X1", T0 + MIN),
                ev("1ZA", Status::Exception, "X2", T0 + 2 * MIN),
                ev("1ZA", Status::InTransit, "AR", T0 + 3 * MIN),
                ev("1ZA", Status::Delivered, "FS", T0 + 4 * MIN),
            ],
        );
        assert_eq!(
            written,
            vec![
                Status::InTransit,
                Status::Exception,
                Status::Exception,
                Status::InTransit,
                Status::Delivered
            ]
        );
        assert_eq!(state.parcels[0].exception_at, None);
    }

    #[test]
    fn older_progress_does_not_clear_an_exception() {
        let (state, written, d) = run(
            one(),
            &[
                ev("1ZA", Status::Exception, "X1", T0 + 2 * MIN),
                ev("1ZA", Status::InTransit, "OR", T0 + MIN),
            ],
        );
        assert_eq!(written, vec![Status::Exception]);
        assert_eq!(d[1], Decision::Ignore(Ignored::OutOfOrder));
        assert_eq!(state.status, Some(Status::Exception));
    }

    #[test]
    fn delivered_is_terminal_and_uses_the_delivery_date() {
        let mut delivered = ev("1ZA", Status::Delivered, "FS", T0 + 5 * MIN);
        delivered.delivered_at = Some(T0 + 4 * MIN);
        delivered.received_by = Some("JSMITH".into());
        let (state, written, d) = run(
            one(),
            &[
                delivered,
                ev("1ZA", Status::Exception, "X9", T0 + 9 * MIN),
                ev("1ZA", Status::InTransit, "AR", T0 + 9 * MIN),
            ],
        );
        assert_eq!(written, vec![Status::Delivered]);
        assert_eq!(d[1], Decision::Ignore(Ignored::Terminal));
        assert_eq!(d[2], Decision::Ignore(Ignored::Terminal));
        let last = state.last_written.unwrap();
        assert_eq!(last.delivered_at, Some(T0 + 4 * MIN));
        assert_eq!(last.received_by.as_deref(), Some("JSMITH"));
    }

    #[test]
    fn voided_stops_tracking() {
        let (state, written, d) = run(
            one(),
            &[
                ev("1ZA", Status::Manifested, "MP", T0),
                ev("1ZA", Status::Voided, "MV", T0 + MIN),
                ev("1ZA", Status::InTransit, "OR", T0 + 2 * MIN),
            ],
        );
        assert_eq!(written, vec![Status::Manifested, Status::Voided]);
        assert_eq!(d[2], Decision::Ignore(Ignored::Terminal));
        assert!(state.is_done());
    }

    #[test]
    fn unknown_parcel_is_ignored() {
        assert_eq!(
            one().decide(&ev("1ZZ", Status::InTransit, "OR", T0)),
            Decision::Ignore(Ignored::Unknown)
        );
    }

    #[test]
    fn multi_parcel_shipment_advances_with_its_slowest_parcel() {
        let state = ShipmentTrack::new("1042", "1ZSHIP", &["1ZA".to_owned(), "1ZB".to_owned()]);
        let mut d1 = ev("1ZA", Status::Delivered, "FS", T0 + 3 * MIN);
        d1.delivered_at = Some(T0 + 3 * MIN);
        let mut d2 = ev("1ZB", Status::Delivered, "FS", T0 + 5 * MIN);
        d2.delivered_at = Some(T0 + 5 * MIN);
        let (state, written, d) = run(
            state,
            &[
                ev("1ZA", Status::InTransit, "OR", T0),
                ev("1ZB", Status::InTransit, "OR", T0),
                d1,
                ev("1ZB", Status::Exception, "X1", T0 + 4 * MIN),
                d2,
            ],
        );
        // 1ZA alone: no shipment status yet; both in transit: in-transit; 1ZA delivered: still
        // in transit; 1ZB exception: exception; 1ZB delivered: delivered (date of the last).
        assert!(matches!(d[0], Decision::Store(_)));
        assert!(matches!(d[2], Decision::Store(_)));
        assert_eq!(
            written,
            vec![Status::InTransit, Status::Exception, Status::Delivered]
        );
        assert_eq!(
            state.last_written.as_ref().unwrap().delivered_at,
            Some(T0 + 5 * MIN)
        );
        assert!(state.is_done());
    }

    #[test]
    fn a_voided_parcel_leaves_the_others_in_charge() {
        let state = ShipmentTrack::new("1", "1ZS", &["1ZA".to_owned(), "1ZB".to_owned()]);
        let (state, written, _) = run(
            state,
            &[
                ev("1ZA", Status::Voided, "MV", T0),
                ev("1ZB", Status::InTransit, "OR", T0 + MIN),
                ev("1ZB", Status::Delivered, "FS", T0 + 2 * MIN),
            ],
        );
        assert_eq!(written, vec![Status::InTransit, Status::Delivered]);
        assert!(state.is_done());
    }

    #[test]
    fn distinct_events_at_the_same_time_are_both_considered() {
        let (_, written, _) = run(
            one(),
            &[
                ev("1ZA", Status::InTransit, "OR", T0),
                ev("1ZA", Status::OutForDelivery, "OT", T0),
            ],
        );
        assert_eq!(written, vec![Status::InTransit, Status::OutForDelivery]);
    }

    #[test]
    fn stored_event_round_trips_through_json_and_wit() {
        let mut e = ev(" 1ZA ", Status::Delivered, "FS", T0);
        e.delivered_at = Some(T0);
        let wit = e.to_wit();
        let back = StoredEvent::from_wit(&wit);
        assert_eq!(back.tracking_number, "1ZA");
        let json = serde_json::to_string(&back).unwrap();
        assert!(json.contains("\"status\":\"delivered\""), "{json}");
        let again: StoredEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(again, back);
    }
}
