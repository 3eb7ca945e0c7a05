//! Subscription upkeep decisions (pure): which tracking numbers to subscribe or renew, which
//! bookkeeping to drop, and whether the carrier's feed must be polled.

use std::collections::{BTreeMap, BTreeSet};

use mlc_plugin_sdk::SubscriptionResult;

use crate::store::SubRecord;

/// What `maintain` knows about one tracking number.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The ERP shipment it belongs to.
    pub erp_id: String,
    /// Written by `process`, not yet subscribed.
    pub pending: bool,
    /// Its subscription record.
    pub sub: Option<SubRecord>,
    /// Delivered or voided (or its shipment is unknown): needs no subscription.
    pub done: bool,
}

/// The upkeep to do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Numbers to subscribe (new) or renew, in order.
    pub subscribe: Vec<String>,
    /// Numbers to forget (`sub/` and `pending-sub/` deleted): delivered, voided, unknown.
    pub forget: Vec<String>,
    /// Pending markers to drop because a subscription record already exists.
    pub drop_pending: Vec<String>,
    /// Numbers without a live subscription right now (refused or lapsed): polling covers them.
    pub uncovered: Vec<String>,
}

/// Plans the upkeep at `now` (ms) with a renewal margin.
pub fn plan(now: i64, renew_before_ms: i64, entries: &BTreeMap<String, Entry>) -> Plan {
    let mut p = Plan::default();
    for (tn, e) in entries {
        if e.done {
            p.forget.push(tn.clone());
            continue;
        }
        match &e.sub {
            None => p.subscribe.push(tn.clone()),
            Some(sub) => {
                if e.pending {
                    p.drop_pending.push(tn.clone());
                }
                if sub.refused.is_some() {
                    p.uncovered.push(tn.clone());
                    continue;
                }
                match sub.expires_at {
                    Some(exp) if exp > now => {
                        if exp - now <= renew_before_ms {
                            p.subscribe.push(tn.clone());
                        }
                    }
                    _ => {
                        p.uncovered.push(tn.clone());
                        p.subscribe.push(tn.clone());
                    }
                }
            }
        }
    }
    p
}

/// The records to store after a subscription answer, and the numbers the carrier did not
/// mention (left as they are, so the next upkeep tries again).
pub fn records_after(
    now: i64,
    asked: &[String],
    entries: &BTreeMap<String, Entry>,
    result: &SubscriptionResult,
) -> (Vec<(String, SubRecord)>, Vec<String>) {
    let mut out = Vec::new();
    let mut answered = BTreeSet::new();
    for (tn, expires) in &result.subscribed {
        let tn = tn.trim();
        if let Some(e) = entries.get(tn) {
            answered.insert(tn.to_owned());
            out.push((
                tn.to_owned(),
                SubRecord {
                    erp_id: e.erp_id.clone(),
                    expires_at: Some(*expires),
                    refused: None,
                    updated_at: now,
                },
            ));
        }
    }
    for r in &result.refused {
        let tn = r.tracking_number.trim();
        if let Some(e) = entries.get(tn)
            && answered.insert(tn.to_owned())
        {
            out.push((
                tn.to_owned(),
                SubRecord {
                    erp_id: e.erp_id.clone(),
                    expires_at: None,
                    refused: Some(r.reason.clone()),
                    updated_at: now,
                },
            ));
        }
    }
    let unanswered = asked
        .iter()
        .filter(|tn| !answered.contains(*tn))
        .cloned()
        .collect();
    (out, unanswered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlc_plugin_sdk::RefusedNumber;

    const NOW: i64 = 1_772_000_000_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    fn sub(expires: Option<i64>, refused: Option<&str>) -> Option<SubRecord> {
        Some(SubRecord {
            erp_id: "1042".into(),
            expires_at: expires,
            refused: refused.map(Into::into),
            updated_at: NOW - DAY,
        })
    }

    fn entry(pending: bool, sub: Option<SubRecord>, done: bool) -> Entry {
        Entry {
            erp_id: "1042".into(),
            pending,
            sub,
            done,
        }
    }

    #[test]
    fn plans_new_renewals_lapsed_refused_and_done() {
        let entries: BTreeMap<String, Entry> = [
            ("1ZNEW", entry(true, None, false)),
            (
                "1ZFRESH",
                entry(false, sub(Some(NOW + 13 * DAY), None), false),
            ),
            (
                "1ZSOON",
                entry(false, sub(Some(NOW + 47 * HOUR), None), false),
            ),
            (
                "1ZEDGE",
                entry(false, sub(Some(NOW + 48 * HOUR), None), false),
            ),
            ("1ZLAPSED", entry(false, sub(Some(NOW - HOUR), None), false)),
            ("1ZREFUSED", entry(false, sub(None, Some("invalid")), false)),
            ("1ZDONE", entry(false, sub(Some(NOW + DAY), None), true)),
            (
                "1ZREPLAY",
                entry(true, sub(Some(NOW + 10 * DAY), None), false),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let p = plan(NOW, 48 * HOUR, &entries);
        assert_eq!(p.subscribe, vec!["1ZEDGE", "1ZLAPSED", "1ZNEW", "1ZSOON"]);
        assert_eq!(p.forget, vec!["1ZDONE"]);
        assert_eq!(p.drop_pending, vec!["1ZREPLAY"]);
        assert_eq!(p.uncovered, vec!["1ZLAPSED", "1ZREFUSED"]);
    }

    #[test]
    fn advancing_the_clock_triggers_renewal_before_the_14_day_window_ends() {
        let subscribed_at = NOW;
        let entries: BTreeMap<String, Entry> = [(
            "1ZA".to_owned(),
            entry(false, sub(Some(subscribed_at + 14 * DAY), None), false),
        )]
        .into();
        assert!(
            plan(NOW + 11 * DAY, 48 * HOUR, &entries)
                .subscribe
                .is_empty()
        );
        assert_eq!(
            plan(NOW + 12 * DAY, 48 * HOUR, &entries).subscribe,
            vec!["1ZA"]
        );
        let lapsed = plan(NOW + 15 * DAY, 48 * HOUR, &entries);
        assert_eq!(lapsed.subscribe, vec!["1ZA"]);
        assert_eq!(lapsed.uncovered, vec!["1ZA"]);
    }

    #[test]
    fn records_follow_the_answer() {
        let entries: BTreeMap<String, Entry> = [
            ("1ZA".to_owned(), entry(true, None, false)),
            ("1ZB".to_owned(), entry(true, None, false)),
            ("1ZC".to_owned(), entry(true, None, false)),
        ]
        .into();
        let asked = vec!["1ZA".to_owned(), "1ZB".to_owned(), "1ZC".to_owned()];
        let result = SubscriptionResult {
            subscribed: vec![("1ZA".into(), NOW + 14 * DAY)],
            refused: vec![RefusedNumber {
                tracking_number: "1ZB ".into(),
                reason: "VSS210: invalid".into(),
            }],
        };
        let (records, unanswered) = records_after(NOW, &asked, &entries, &result);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].0, "1ZA");
        assert_eq!(records[0].1.expires_at, Some(NOW + 14 * DAY));
        assert_eq!(records[1].0, "1ZB");
        assert_eq!(records[1].1.refused.as_deref(), Some("VSS210: invalid"));
        assert_eq!(unanswered, vec!["1ZC"]);
    }
}
