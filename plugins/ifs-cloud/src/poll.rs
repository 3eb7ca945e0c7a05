//! `list-ready-shipments`: polling IFS for shipments that are ready to ship.
//!
//! # Why nothing is missed and nothing is processed twice
//!
//! IFS has no change feed; we filter on a modification timestamp (`poll.modified-field`,
//! `LastActivityDate` by default), ordered by timestamp then key. Three things go wrong with a
//! naive `modified gt last_seen` poll, and each has a counter-measure:
//!
//! 1. **Same second.** Many records share one timestamp (IFS stores seconds), and a poll may stop
//!    in the middle of such a group. So the next poll asks for `modified ge cursor.ts - overlap`
//!    (`ge`, not `gt`), and the cursor carries `seen`: the `(id, version)` of every record already
//!    returned whose timestamp lies inside that window. Records found again are dropped; a record
//!    that changed again has a new version (its ETag), so it is returned again, as it must be.
//! 2. **Late commits.** A transaction that started before our read can commit after it with an
//!    older timestamp. The overlap window (`poll.overlap-seconds`, default 60) re-reads the recent
//!    past, and `seen` keeps that from returning anything twice.
//! 3. **Records moving while paging.** Offset paging (`$skip`, and IFS/Olingo `$skiptoken`s,
//!    which are offsets) shifts when a record on an earlier page changes: it leaves its place (its
//!    timestamp moves to "now", or its state leaves the filter) and every later record moves up one
//!    place, so the record on the page boundary is never served. The default `keyset` paging
//!    avoids this: every page is a fresh query for records after the last `(timestamp, key)` read,
//!    so what happens behind the reading position cannot shift what lies ahead. `@odata.nextLink`
//!    still tells us there is more, but we continue by key, not by offset.
//!
//!    Tenants that need `next-link` or `skip` paging get a detector instead: the page token keeps
//!    every `(id, version, position)` read in this poll and the previous page's `@odata.count`.
//!    A record seen again with a new version, or a count that changed, means the offsets may have
//!    shifted; the poll then continues by keyset from the earliest position that could have been
//!    skipped (the moved record's old position, or the previous page's end). And since a shift may
//!    only be noticed pages later, such a poll hands back its starting cursor until its last page.
//!
//! The cursor returned with a page is safe to commit once the host has durably stored the page's
//! items: in keyset order nothing not yet read is older than the last record read, so
//! `ts - overlap` with `seen` loses nothing. The cursor is plain JSON (`{"v":1,"ts":…,"seen":…}`),
//! opaque to the host.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use mlc_plugin_sdk::types::{ReadyItem, ReadyPage};
use mlc_plugin_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::api::{self, Entity};
use crate::client::Ifs;
use crate::config::{KeyType, Paging, Settings, StateFilter};
use crate::mapping;
use crate::odata::{
    self, and_all, any_of, enum_lit, format_timestamp, is_timestamp_literal, key_lit,
    parse_timestamp, string_lit,
};

/// What a committed cursor remembers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Format version.
    pub v: u8,
    /// The newest modification time returned so far (ms), if any.
    pub ts: Option<i64>,
    /// `[id, version, ts]` of records returned whose `ts` is within the overlap window.
    pub seen: Vec<(String, String, i64)>,
}

impl Cursor {
    fn contains(&self, id: &str, version: &str) -> bool {
        self.seen.iter().any(|(i, v, _)| i == id && v == version)
    }

    fn add(&mut self, id: &str, version: &str, ts: i64) {
        self.ts = Some(self.ts.map_or(ts, |t| t.max(ts)));
        if !self.contains(id, version) {
            self.seen.push((id.to_owned(), version.to_owned(), ts));
        }
    }

    /// Keeps only what the next poll's overlap window can return again.
    fn pruned(mut self, overlap_ms: i64) -> Cursor {
        if let Some(ts) = self.ts {
            self.seen.retain(|(_, _, t)| *t >= ts - overlap_ms);
        }
        self.seen.sort();
        self.v = 1;
        self
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(raw: &str) -> Result<Cursor> {
        serde_json::from_str(raw).map_err(|e| {
            Error::invalid_input(
                "cursor",
                "cursor",
                format!("not a cursor of this connector: {e}"),
            )
        })
    }
}

/// A reading position: a record's timestamp (as the server wrote it) and key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Anchor {
    ts: String,
    key: String,
}

impl Anchor {
    fn cmp(&self, other: &Anchor, key_type: KeyType) -> Ordering {
        let t = parse_timestamp(&self.ts).cmp(&parse_timestamp(&other.ts));
        let k = match (key_type, self.key.parse::<i64>(), other.key.parse::<i64>()) {
            (KeyType::Number, Ok(a), Ok(b)) => a.cmp(&b),
            _ => self.key.cmp(&other.key),
        };
        t.then(k)
    }
}

/// Where a restarted keyset read begins: after an anchor, or at the start of the poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Restart {
    From(Anchor),
    Beginning,
}

/// The `page` token: everything needed to fetch the next page of this poll.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PageToken {
    v: u8,
    mode: Paging,
    start: Cursor,
    acc: Cursor,
    /// Keyset: continue after this position (none: from the beginning).
    after: Option<Anchor>,
    /// Next-link: the checked URL to GET.
    link: Option<String>,
    /// Skip: the offset of the next page.
    skip: usize,
    /// Offset modes: hand back `start` until the last page.
    hold: bool,
    /// Offset modes: the last record of the previous page and the count it reported.
    last: Option<Anchor>,
    count: Option<u64>,
    /// Offset modes: id → (version, position) of every record read in this poll.
    read: BTreeMap<String, (String, Anchor)>,
}

impl PageToken {
    fn fresh(mode: Paging, start: Cursor) -> Self {
        PageToken {
            v: 1,
            mode,
            acc: start.clone(),
            start,
            after: None,
            link: None,
            skip: 0,
            hold: mode != Paging::Keyset,
            last: None,
            count: None,
            read: BTreeMap::new(),
        }
    }
}

/// The `$filter` shared by every page of a poll.
fn base_filter(s: &Settings, start: &Cursor) -> Vec<String> {
    let p = &s.poll;
    let mut clauses = Vec::new();
    let lower = start.ts.map(|t| t - p.overlap_ms).or(p.start_from_ms);
    if let Some(t) = lower {
        clauses.push(format!("{} ge {}", p.modified_field, format_timestamp(t)));
    }
    if p.state_filter == StateFilter::Server && !p.state_field.is_empty() && !p.states.is_empty() {
        let lits: Vec<String> = p
            .states
            .iter()
            .map(|st| enum_lit(&p.state_enum, st))
            .collect();
        clauses.push(any_of(&p.state_field, &lits));
    }
    if let (Some(c), false) = (&s.company, s.fields.company.is_empty()) {
        clauses.push(format!("{} eq {}", s.fields.company, string_lit(c)));
    }
    if !s.sites.is_empty() {
        let lits: Vec<String> = s.sites.iter().map(|x| string_lit(x)).collect();
        clauses.push(any_of(&s.fields.site, &lits));
    }
    if let Some(extra) = &p.extra_filter {
        clauses.push(extra.clone());
    }
    clauses
}

/// `M gt T or (M eq T and K gt k)`: strictly after a position.
fn after_clause(s: &Settings, a: &Anchor) -> Result<String> {
    let m = &s.poll.modified_field;
    if !is_timestamp_literal(&a.ts) {
        return Err(Error::internal(format!(
            "cannot page after timestamp `{}`",
            a.ts
        )));
    }
    let k = key_lit(s.key_type, &a.key, "page", &s.shipment_key)?;
    Ok(format!(
        "{m} gt {ts} or ({m} eq {ts} and {key} gt {k})",
        ts = a.ts,
        key = s.shipment_key
    ))
}

/// The URL of the page described by `tok`.
fn page_url(ifs: &Ifs<'_>, tok: &PageToken) -> Result<String> {
    let s = ifs.s;
    if tok.mode == Paging::NextLink
        && let Some(link) = &tok.link
    {
        return odata::checked_next_link(s, &ifs.shipment_service(), link);
    }
    let mut clauses = base_filter(s, &tok.start);
    if tok.mode == Paging::Keyset
        && let Some(a) = &tok.after
    {
        clauses.push(after_clause(s, a)?);
    }
    let mut opts = Vec::new();
    if let Some(f) = and_all(&clauses) {
        opts.push(("$filter", f));
    }
    opts.push((
        "$orderby",
        format!("{} asc,{} asc", s.poll.modified_field, s.shipment_key),
    ));
    match tok.mode {
        Paging::Keyset => opts.push(("$top", s.poll.page_size.to_string())),
        Paging::Skip => {
            opts.push(("$top", s.poll.page_size.to_string()));
            opts.push(("$skip", tok.skip.to_string()));
            opts.push(("$count", "true".into()));
        }
        Paging::NextLink => opts.push(("$count", "true".into())),
    }
    Ok(format!("{}{}", ifs.shipments_url(), odata::query(&opts)))
}

/// One poll page: see the module docs.
pub fn list_ready(
    ifs: &Ifs<'_>,
    cursor: Option<String>,
    page: Option<String>,
) -> Result<ReadyPage> {
    let s = ifs.s;
    let mut tok = match page {
        Some(raw) => serde_json::from_str::<PageToken>(&raw).map_err(|e| {
            Error::invalid_input(
                "page",
                "page",
                format!("not a page token of this connector: {e}"),
            )
        })?,
        None => {
            let start = cursor
                .as_deref()
                .map(Cursor::decode)
                .transpose()?
                .unwrap_or_default();
            PageToken::fresh(s.poll.paging, start)
        }
    };
    let url = page_url(ifs, &tok)?;
    let coll = ifs.collection(&url, &format!("GET {}", s.shipment_set))?;
    let offset_mode = tok.mode != Paging::Keyset;

    let mut restart: Option<Restart> = None;
    if offset_mode
        && let (Some(before), Some(now)) = (tok.count, coll.total())
        && before != now
    {
        restart = Some(tok.last.clone().map_or(Restart::Beginning, Restart::From));
    }

    let mut kept: Vec<(String, Option<i64>, &Entity)> = Vec::new();
    let mut last: Option<Anchor> = None;
    for row in &coll.value {
        let id = mapping::key_of(row, &s.shipment_key).ok_or_else(|| {
            Error::internal(format!(
                "a {} record has no `{}`",
                s.shipment_set, s.shipment_key
            ))
        })?;
        let ts_raw = mapping::text(row, &s.poll.modified_field);
        let ts = ts_raw.as_deref().and_then(parse_timestamp);
        let version = api::etag_of(row, None)
            .or_else(|| ts_raw.clone())
            .unwrap_or_default();
        let mut again = false;
        if let (Some(raw), Some(_)) = (&ts_raw, ts) {
            let here = Anchor {
                ts: raw.clone(),
                key: id.clone(),
            };
            if tok.hold {
                again = tok.read.get(&id).is_some_and(|(v, _)| *v == version);
            }
            if offset_mode
                && let Some((v, at)) = tok.read.get(&id)
                && *v != version
            {
                // A record read earlier in this poll came back changed: the offsets behind it
                // may have shifted, so re-read from its old position (the earliest such one).
                let earlier = match &restart {
                    Some(Restart::From(r)) => at.cmp(r, s.key_type) == Ordering::Less,
                    Some(Restart::Beginning) => false,
                    None => true,
                };
                if earlier {
                    restart = Some(Restart::From(at.clone()));
                }
            }
            if tok.hold {
                tok.read.insert(id.clone(), (version.clone(), here.clone()));
            }
            last = Some(here);
        }
        // Already returned: in an earlier poll (inside the overlap window) or, after a restart,
        // earlier in this one.
        if again || tok.start.contains(&id, &version) {
            continue;
        }
        if let Some(t) = ts {
            tok.acc.add(&id, &version, t);
        }
        if s.poll.state_filter == StateFilter::Client {
            let state = mapping::text(row, &s.poll.state_field).unwrap_or_default();
            if !s.poll.states.contains(&state) {
                continue;
            }
        }
        kept.push((id, ts, row));
    }

    let ids: Vec<String> = kept
        .iter()
        .filter(|(_, ts, _)| ts.is_some())
        .map(|(id, _, _)| id.clone())
        .collect();
    let hus = if ids.is_empty() {
        BTreeMap::new()
    } else {
        ifs.handling_units(&ids)?
    };
    let items = kept
        .iter()
        .map(|(id, ts, row)| {
            let shipment = match ts {
                Some(_) => {
                    let refs: Vec<&Entity> =
                        hus.get(id).map(|v| v.iter().collect()).unwrap_or_default();
                    mapping::shipment(row, &refs, s, None)
                }
                None => Err(Error::invalid_input(
                    mapping::subject(id),
                    &s.poll.modified_field,
                    "is missing or not a timestamp",
                )),
            };
            ReadyItem {
                erp_id: id.clone(),
                modified_at: ts.unwrap_or(0),
                shipment,
            }
        })
        .collect();

    // Where the next page starts, if there is one.
    let full = coll.value.len() >= s.poll.page_size;
    let more = match (restart, tok.mode) {
        (Some(r), _) => {
            tok.mode = Paging::Keyset;
            tok.after = match r {
                Restart::From(a) => Some(a),
                Restart::Beginning => None,
            };
            tok.link = None;
            true
        }
        (None, Paging::Keyset) => {
            if coll.next_link.is_some() || full {
                tok.after = Some(last.clone().ok_or_else(|| {
                    Error::internal("cannot page: no record on this page has a timestamp")
                })?);
                true
            } else {
                false
            }
        }
        (None, Paging::NextLink) => match &coll.next_link {
            Some(l) => {
                tok.link = Some(odata::checked_next_link(s, &ifs.shipment_service(), l)?);
                true
            }
            None => false,
        },
        (None, Paging::Skip) => {
            if coll.next_link.is_some() || full {
                tok.skip += coll.value.len();
                !coll.value.is_empty()
            } else {
                false
            }
        }
    };
    tok.last = last.or(tok.last);
    tok.count = coll.total();
    tok.acc = std::mem::take(&mut tok.acc).pruned(s.poll.overlap_ms);

    let cursor = if more && tok.hold {
        tok.start.clone().pruned(s.poll.overlap_ms)
    } else {
        tok.acc.clone()
    };
    let next_page = if more {
        Some(
            serde_json::to_string(&tok)
                .map_err(|e| Error::internal(format!("cannot encode page token: {e}")))?,
        )
    } else {
        None
    };
    Ok(ReadyPage {
        items,
        next_page,
        cursor: cursor.encode(),
    })
}
