//! The four entry points over a [`Platform`]: the steps, storage bookkeeping and error
//! handling. Decisions live in the pure modules (`mapping`, `tracking`, `subscriptions`,
//! `discover`).

use std::collections::BTreeMap;

use mlc_plugin_sdk::exports::flow::{Discovery, Outcome, Tick, TrackingReport, Upkeep, WorkItem};
use mlc_plugin_sdk::{CarrierShipment, Error, RateRequest, Shipment, TrackingEvent};

use crate::config::Settings;
use crate::platform::{Level, Platform, Result};
use crate::store::{self, PendingSub, SubRecord, TrackIndex};
use crate::subscriptions::{self, Entry};
use crate::tracking::{Decision, ShipmentTrack, StoredEvent};
use crate::{discover as disc, mapping};

/// Attempts of the read–write–compare-and-swap loop on one shipment's tracking state.
const CAS_ATTEMPTS: usize = 5;

fn settings(p: &dyn Platform) -> Result<Settings> {
    Settings::load(&|k| p.config(k))
}

/// `flow.discover`.
pub fn discover(p: &dyn Platform, tick: &Tick) -> Result<Discovery> {
    let s = settings(p)?;
    let cursor = store::get_text(p, store::CURSOR_KEY)?;
    let polled = disc::poll(&mut |c, page| p.list_ready_shipments(c, page), cursor, &s)?;
    if polled.stalled {
        p.log(
            Level::Warn,
            &format!(
                "discover: the ERP cursor did not advance in {} pages; stopping (run {}). Keyset paging in the ERP connector avoids this.",
                polled.pages, tick.run_id
            ),
        );
    }
    p.log(
        Level::Info,
        &format!(
            "discover: {} records in {} pages, more: {}",
            polled.discovery.items.len(),
            polled.pages,
            polled.discovery.more
        ),
    );
    Ok(polled.discovery)
}

/// `flow.process`: one ERP shipment end to end.
pub fn process(p: &dyn Platform, item: &WorkItem) -> Result<Outcome> {
    let s = settings(p)?;
    // Re-read: an operator may have fixed the shipment since it was discovered.
    let shipment = p.get_shipment(&item.key)?;

    let validation = p.validate_address(&shipment.ship_to)?;
    let ship_to = match mapping::address_decision(&shipment, validation.verdict) {
        Ok(address) => address,
        Err(hold) => return Ok(Outcome::Held(hold)),
    };
    let Some(service) = s.service_for(&shipment.ship_via) else {
        return Ok(Outcome::Held(mapping::unmapped_hold(&shipment)));
    };
    let service = service.to_owned();

    let rates = p.rate_shipment(&RateRequest {
        ship_to: ship_to.clone(),
        parcels: shipment.parcels.clone(),
        service: Some(service.clone()),
        site: Some(shipment.site.clone()),
    })?;
    let rate = mapping::pick_rate(rates, &service)?;

    let request = mapping::shipment_request(&shipment, ship_to, &service, s.label_format);
    let created = p.create_shipment(&request)?;
    if created.voided {
        return Err(Error::internal(format!(
            "carrier shipment {} of shipment {} is voided; void handling is manual",
            created.shipment_id, shipment.erp_id
        )));
    }
    if created.tracking_numbers.is_empty() {
        return Err(Error::internal(format!(
            "carrier shipment {} of shipment {} has no tracking number",
            created.shipment_id, shipment.erp_id
        )));
    }
    if created.tracking_numbers.len() != shipment.parcels.len() {
        p.log(
            Level::Warn,
            &format!(
                "shipment {}: {} parcels but {} tracking numbers",
                shipment.erp_id,
                shipment.parcels.len(),
                created.tracking_numbers.len()
            ),
        );
    }
    // Known to tracking before anything else can fail, so no event for these numbers is
    // ignored as unknown.
    register_tracking(p, &shipment, &created)?;

    p.record_carrier_shipment(&shipment.erp_id, &created)?;

    let freight = if s.post_freight {
        let (amount, from_rate) = mapping::freight_amount(&created, &rate);
        if from_rate {
            p.log(
                Level::Warn,
                &format!(
                    "shipment {}: carrier shipment {} reports no charges (found by reconciliation?); booking the rated {} {}",
                    shipment.erp_id, created.shipment_id, amount.amount, amount.currency
                ),
            );
        }
        let outcome = p.record_freight_cost(&mapping::freight_charge(
            &shipment,
            &created,
            amount.clone(),
        ))?;
        Some((amount, outcome))
    } else {
        None
    };
    let summary = mapping::summary(&shipment, &created, freight.as_ref().map(|(m, o)| (m, *o)));
    p.log(Level::Info, &summary);
    Ok(Outcome::Completed(summary))
}

/// Writes `trk/`, `ship/` and `pending-sub/` for a created shipment (idempotent).
fn register_tracking(
    p: &dyn Platform,
    shipment: &Shipment,
    created: &CarrierShipment,
) -> Result<()> {
    let erp_id = &shipment.erp_id;
    for tn in &created.tracking_numbers {
        store::set_json(
            p,
            &store::trk_key(tn),
            &TrackIndex {
                erp_id: erp_id.clone(),
            },
        )?;
    }
    let key = store::ship_key(erp_id);
    let fresh = ShipmentTrack::new(erp_id, &created.shipment_id, &created.tracking_numbers);
    for _ in 0..CAS_ATTEMPTS {
        match store::get_json::<ShipmentTrack>(p, &key)? {
            Some((existing, _)) if existing.carrier_shipment_id == created.shipment_id => break,
            Some((existing, rev)) => {
                p.log(
                    Level::Warn,
                    &format!(
                        "shipment {erp_id}: tracking moves from carrier shipment {} to {}",
                        existing.carrier_shipment_id, created.shipment_id
                    ),
                );
                if store::cas_json(p, &key, Some(rev), &fresh)?.is_some() {
                    break;
                }
            }
            None => {
                if store::cas_json(p, &key, None, &fresh)?.is_some() {
                    break;
                }
            }
        }
    }
    for tn in &created.tracking_numbers {
        if p.get(&store::sub_key(tn))?.is_none() {
            // Only if absent: a replay must not disturb what `maintain` already did.
            store::cas_json(
                p,
                &store::pending_key(tn),
                None,
                &PendingSub {
                    erp_id: erp_id.clone(),
                },
            )?;
        }
    }
    Ok(())
}

/// How applying a list of events went.
#[derive(Debug, Default)]
pub struct Applied {
    /// Events written to the ERP.
    pub applied: u32,
    /// Events that changed nothing in the ERP.
    pub ignored: u32,
    /// Events the ERP refused permanently (the rest went on).
    pub failed: Vec<(StoredEvent, Error)>,
    /// A retryable (or storage) failure stopped the batch at this index.
    pub stopped: Option<(usize, Error)>,
}

enum Fail {
    /// Stop the batch: retryable, or storage trouble.
    Stop(Error),
    /// This event only: the ERP refused it permanently.
    Skip(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Stop(e)
    }
}

/// Applies events in the order given.
pub fn apply_events(p: &dyn Platform, events: &[StoredEvent]) -> Applied {
    let mut out = Applied::default();
    let mut erp_of: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (i, ev) in events.iter().enumerate() {
        match apply_one(p, ev, &mut erp_of) {
            Ok(true) => out.applied += 1,
            Ok(false) => out.ignored += 1,
            Err(Fail::Skip(e)) => {
                p.log(
                    Level::Error,
                    &format!(
                        "tracking {} ({:?}): the ERP refused the update: {}",
                        ev.tracking_number,
                        ev.status,
                        e.describe()
                    ),
                );
                out.failed.push((ev.clone(), e));
            }
            Err(Fail::Stop(e)) => {
                out.stopped = Some((i, e));
                break;
            }
        }
    }
    out
}

fn erp_write(p: &dyn Platform, erp_id: &str, event: &StoredEvent) -> Result<(), Fail> {
    p.record_tracking(erp_id, &event.to_wit()).map_err(|e| {
        if e.is_retryable() {
            Fail::Stop(e)
        } else {
            Fail::Skip(e)
        }
    })
}

/// One event: true when written to the ERP.
fn apply_one(
    p: &dyn Platform,
    ev: &StoredEvent,
    erp_of: &mut BTreeMap<String, Option<String>>,
) -> Result<bool, Fail> {
    let tn = ev.tracking_number.as_str();
    let erp_id = match erp_of.get(tn) {
        Some(known) => known.clone(),
        None => {
            let found =
                store::get_json::<TrackIndex>(p, &store::trk_key(tn))?.map(|(t, _)| t.erp_id);
            erp_of.insert(tn.to_owned(), found.clone());
            found
        }
    };
    let Some(erp_id) = erp_id else {
        return Ok(false);
    };
    let key = store::ship_key(&erp_id);
    let mut wrote_stale = false;
    for _ in 0..CAS_ATTEMPTS {
        let Some((state, rev)) = store::get_json::<ShipmentTrack>(p, &key)? else {
            return Ok(false);
        };
        match state.decide(ev) {
            Decision::Ignore(_) => {
                if wrote_stale {
                    reassert(p, &erp_id, &state)?;
                }
                return Ok(false);
            }
            Decision::Store(next) => {
                if store::cas_json(p, &key, Some(rev), &next)?.is_some() {
                    if wrote_stale {
                        reassert(p, &erp_id, &next)?;
                    }
                    forget_if_done(p, &next, tn);
                    return Ok(false);
                }
            }
            Decision::Write { state: next, event } => {
                // The ERP first: storage only records what the ERP has.
                erp_write(p, &erp_id, &event)?;
                if store::cas_json(p, &key, Some(rev), &next)?.is_some() {
                    forget_if_done(p, &next, tn);
                    return Ok(true);
                }
                wrote_stale = true;
            }
        }
    }
    Err(Fail::Stop(Error::Conflict(format!(
        "tracking state of shipment {erp_id} kept changing"
    ))))
}

/// After a lost race, puts the winner's last event back in the ERP.
fn reassert(p: &dyn Platform, erp_id: &str, state: &ShipmentTrack) -> Result<(), Fail> {
    match &state.last_written {
        Some(last) => erp_write(p, erp_id, last),
        None => Ok(()),
    }
}

/// A delivered or voided parcel needs no subscription (nor does any parcel of a finished
/// shipment).
fn forget_if_done(p: &dyn Platform, state: &ShipmentTrack, tn: &str) {
    let numbers: Vec<&str> = if state.is_done() {
        state
            .parcels
            .iter()
            .map(|parcel| parcel.tracking_number.as_str())
            .collect()
    } else if state.parcel(tn).is_some_and(|parcel| parcel.is_done()) {
        vec![tn]
    } else {
        vec![]
    };
    for tn in numbers {
        for key in [store::sub_key(tn), store::pending_key(tn)] {
            if let Err(e) = p.delete(&key) {
                p.log(
                    Level::Warn,
                    &format!("cannot delete `{key}`: {}", e.describe()),
                );
            }
        }
    }
}

/// `flow.handle-tracking`.
pub fn handle_tracking(p: &dyn Platform, events: &[TrackingEvent]) -> Result<TrackingReport> {
    let events: Vec<StoredEvent> = events.iter().map(StoredEvent::from_wit).collect();
    let r = apply_events(p, &events);
    p.log(
        Level::Info,
        &format!(
            "tracking: {} applied, {} ignored, {} refused by the ERP",
            r.applied,
            r.ignored,
            r.failed.len()
        ),
    );
    if let Some((_, e)) = r.stopped {
        return Err(e);
    }
    if let Some((_, e)) = r.failed.into_iter().next() {
        return Err(e);
    }
    Ok(TrackingReport {
        applied: r.applied,
        ignored: r.ignored,
    })
}

/// `flow.maintain`: subscribe pending numbers, renew expiring ones, poll where uncovered.
pub fn maintain(p: &dyn Platform, tick: &Tick) -> Result<Upkeep> {
    let s = settings(p)?;
    let now = tick.now;
    let entries = gather(p)?;
    let plan = subscriptions::plan(now, s.renew_before_ms, &entries);
    let mut first_err: Option<Error> = None;
    let mut note = |e: Error, what: &str| {
        p.log(Level::Warn, &format!("maintain: {what}: {}", e.describe()));
        first_err.get_or_insert(e);
    };

    for tn in &plan.forget {
        for key in [store::sub_key(tn), store::pending_key(tn)] {
            if let Err(e) = p.delete(&key) {
                note(e, &format!("cannot delete `{key}`"));
            }
        }
    }
    for tn in &plan.drop_pending {
        if let Err(e) = p.delete(&store::pending_key(tn)) {
            note(e, "cannot drop a pending marker");
        }
    }

    let mut upkeep = Upkeep {
        subscribed: 0,
        refused: 0,
        polled_events: 0,
    };
    let mut uncovered = !plan.uncovered.is_empty();
    if !plan.subscribe.is_empty() {
        match p.subscribe_tracking(&plan.subscribe) {
            Ok(result) => {
                let (records, unanswered) =
                    subscriptions::records_after(now, &plan.subscribe, &entries, &result);
                for (tn, record) in records {
                    if record.refused.is_some() {
                        upkeep.refused += 1;
                        uncovered = true;
                    } else {
                        upkeep.subscribed += 1;
                    }
                    let saved = store::set_json(p, &store::sub_key(&tn), &record)
                        .and_then(|_| p.delete(&store::pending_key(&tn)));
                    if let Err(e) = saved {
                        note(e, &format!("cannot record the subscription of {tn}"));
                    }
                }
                if !unanswered.is_empty() {
                    p.log(
                        Level::Warn,
                        &format!(
                            "maintain: the carrier did not answer for {}; retried next time",
                            unanswered.join(", ")
                        ),
                    );
                    uncovered = true;
                }
            }
            Err(e) => {
                uncovered |= plan
                    .subscribe
                    .iter()
                    .any(|tn| entries.get(tn).is_some_and(|e| e.sub.is_none()));
                note(e, "subscribing failed");
            }
        }
    }
    if s.poll_always || uncovered {
        match poll_feed(p, &s) {
            Ok(n) => upkeep.polled_events = n,
            Err(e) => note(e, "polling failed"),
        }
    }
    p.log(
        Level::Info,
        &format!(
            "maintain: {} subscribed, {} refused, {} forgotten, {} polled events applied",
            upkeep.subscribed,
            upkeep.refused,
            plan.forget.len(),
            upkeep.polled_events
        ),
    );
    match first_err {
        Some(e) => Err(e),
        None => Ok(upkeep),
    }
}

/// Every tracking number with a pending marker or a subscription record.
fn gather(p: &dyn Platform) -> Result<BTreeMap<String, Entry>> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for key in p.list_keys(store::PENDING_PREFIX)? {
        let Some(tn) = store::suffix(&key, store::PENDING_PREFIX) else {
            continue;
        };
        if let Some((pending, _)) = store::get_json::<PendingSub>(p, &key)? {
            entries.insert(
                tn.to_owned(),
                Entry {
                    erp_id: pending.erp_id,
                    pending: true,
                    sub: None,
                    done: false,
                },
            );
        }
    }
    for key in p.list_keys(store::SUB_PREFIX)? {
        let Some(tn) = store::suffix(&key, store::SUB_PREFIX) else {
            continue;
        };
        if let Some((sub, _)) = store::get_json::<SubRecord>(p, &key)? {
            let entry = entries.entry(tn.to_owned()).or_insert_with(|| Entry {
                erp_id: sub.erp_id.clone(),
                pending: false,
                sub: None,
                done: false,
            });
            entry.sub = Some(sub);
        }
    }
    let mut ships: BTreeMap<String, Option<ShipmentTrack>> = BTreeMap::new();
    for (tn, entry) in entries.iter_mut() {
        if !ships.contains_key(&entry.erp_id) {
            let state = store::get_json::<ShipmentTrack>(p, &store::ship_key(&entry.erp_id))?
                .map(|(s, _)| s);
            ships.insert(entry.erp_id.clone(), state);
        }
        entry.done = match ships.get(&entry.erp_id) {
            Some(Some(state)) => state.parcel(tn).is_none_or(|parcel| parcel.is_done()),
            _ => true,
        };
    }
    Ok(entries)
}

/// Applies the backlog, then drains the carrier's feed (bounded). Returns events written.
fn poll_feed(p: &dyn Platform, s: &Settings) -> Result<u32> {
    let mut written = 0;
    if let Some((backlog, _)) = store::get_json::<Vec<StoredEvent>>(p, store::BACKLOG_KEY)? {
        let r = apply_events(p, &backlog);
        written += r.applied;
        if let Some((i, e)) = r.stopped {
            store::set_json(p, store::BACKLOG_KEY, &backlog[i..].to_vec())?;
            return Err(e);
        }
        p.delete(store::BACKLOG_KEY)?;
    }
    let mut bookmark = store::get_text(p, store::BOOKMARK_KEY)?;
    for _ in 0..s.poll_max_pages {
        let page = p.poll_tracking(bookmark.as_deref())?;
        let events: Vec<StoredEvent> = page.events.iter().map(StoredEvent::from_wit).collect();
        let r = apply_events(p, &events);
        written += r.applied;
        if let Some((i, e)) = r.stopped {
            // The feed does not send events twice: keep the rest for the next upkeep.
            store::set_json(p, store::BACKLOG_KEY, &events[i..].to_vec())?;
            save_bookmark(p, page.bookmark.as_deref())?;
            return Err(e);
        }
        save_bookmark(p, page.bookmark.as_deref())?;
        bookmark = page.bookmark;
        if bookmark.is_none() {
            break;
        }
    }
    Ok(written)
}

fn save_bookmark(p: &dyn Platform, bookmark: Option<&str>) -> Result<()> {
    match bookmark {
        Some(b) => p.set(store::BOOKMARK_KEY, b.as_bytes()).map(|_| ()),
        None => p.delete(store::BOOKMARK_KEY),
    }
}
