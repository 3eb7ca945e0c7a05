//! Finding new work: the ERP poll from the stored cursor, bounded per call.
//!
//! Pages are followed until the last page, or until `discover-max-pages` pages or
//! `discover-max-items` items are in hand (whole pages only: the connector's cursor is per page).
//! The checkpoint is the `cursor` of the last page included; the host commits it with the items
//! and calls again at once when `more` is true. A connector that hands back its starting cursor
//! until the last page (IFS `next-link`/`skip` paging) would make such a bounded call loop
//! forever, so while the cursor has not advanced we keep paging, up to
//! `discover-hard-max-pages`; past that the call ends with `more = false` (the next tick polls
//! again and the host de-duplicates).

use mlc_plugin_sdk::ReadyPage;
use mlc_plugin_sdk::exports::flow::{Checkpoint, Discovery};

use crate::config::Settings;
use crate::platform::Result;
use crate::store::CURSOR_KEY;

/// One call of `list-ready-shipments(cursor, page)`.
pub type ListPage<'a> = dyn FnMut(Option<&str>, Option<&str>) -> Result<ReadyPage> + 'a;

/// The result of one bounded poll.
#[derive(Debug)]
pub struct Polled {
    /// What to hand to the host.
    pub discovery: Discovery,
    /// Pages read.
    pub pages: u32,
    /// True when the hard bound was hit without the cursor advancing.
    pub stalled: bool,
}

/// Polls from `cursor` through `list(cursor, page)`.
pub fn poll(
    list: &mut ListPage<'_>,
    cursor: Option<String>,
    settings: &Settings,
) -> Result<Polled> {
    let cursor = cursor.filter(|c| !c.is_empty());
    let mut items = Vec::new();
    let mut page_token: Option<String> = None;
    let mut pages = 0u32;
    let finish = |items, last: Option<String>, more, pages, stalled| Polled {
        discovery: Discovery {
            items,
            checkpoint: last.map(|c: String| Checkpoint {
                key: CURSOR_KEY.to_owned(),
                value: c.into_bytes(),
            }),
            more,
        },
        pages,
        stalled,
    };
    loop {
        let page = list(cursor.as_deref(), page_token.as_deref())?;
        pages += 1;
        items.extend(page.items);
        let advanced = cursor.as_deref() != Some(page.cursor.as_str());
        let last_cursor = Some(page.cursor);
        let Some(next) = page.next_page.filter(|n| !n.is_empty()) else {
            return Ok(finish(items, last_cursor, false, pages, false));
        };
        let bounded =
            pages >= settings.discover_max_pages || items.len() >= settings.discover_max_items;
        if bounded && advanced {
            return Ok(finish(items, last_cursor, true, pages, false));
        }
        if pages >= settings.discover_hard_max_pages {
            return Ok(finish(items, last_cursor, false, pages, true));
        }
        page_token = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlc_plugin_sdk::{Error, ReadyItem};

    use crate::mapping::tests::shipment;

    fn settings(pages: u32, items: usize) -> Settings {
        let mut s = Settings::load(&|_| None).unwrap();
        s.discover_max_pages = pages;
        s.discover_max_items = items;
        s.discover_hard_max_pages = 8;
        s
    }

    fn item(id: u32) -> ReadyItem {
        ReadyItem {
            erp_id: id.to_string(),
            modified_at: 1_772_000_000_000 + i64::from(id),
            shipment: Ok(shipment(&id.to_string())),
        }
    }

    /// An ERP with `total` pages of `per` items; cursors `c<n>` per page, or the starting
    /// cursor until the last page when `sticky`.
    fn erp(
        total: u32,
        per: u32,
        sticky: bool,
    ) -> impl FnMut(Option<&str>, Option<&str>) -> Result<ReadyPage> {
        move |cursor, page| {
            let start: u32 = match (cursor, page) {
                (_, Some(p)) => p.parse().unwrap(),
                (Some(c), None) => c
                    .trim_start_matches('c')
                    .parse::<u32>()
                    .map_or(0, |n| n + 1),
                (None, None) => 0,
            };
            let last = start + 1 >= total;
            Ok(ReadyPage {
                items: (0..per).map(|i| item(start * per + i)).collect(),
                next_page: (!last).then(|| (start + 1).to_string()),
                cursor: if sticky && !last {
                    cursor.unwrap_or("").to_owned()
                } else {
                    format!("c{start}")
                },
            })
        }
    }

    fn cursor_of(d: &Discovery) -> String {
        let cp = d.checkpoint.as_ref().unwrap();
        assert_eq!(cp.key, "cursor/erp");
        String::from_utf8(cp.value.clone()).unwrap()
    }

    #[test]
    fn reads_every_page_when_few() {
        let p = poll(&mut erp(3, 10, false), None, &settings(5, 500)).unwrap();
        assert_eq!(p.pages, 3);
        assert_eq!(p.discovery.items.len(), 30);
        assert!(!p.discovery.more);
        assert_eq!(cursor_of(&p.discovery), "c2");
    }

    #[test]
    fn stops_at_the_page_bound_with_more() {
        let p = poll(&mut erp(12, 10, false), None, &settings(5, 500)).unwrap();
        assert_eq!(p.pages, 5);
        assert!(p.discovery.more);
        assert_eq!(cursor_of(&p.discovery), "c4");
        // The host commits c4 and calls again.
        let p2 = poll(
            &mut erp(12, 10, false),
            Some("c4".into()),
            &settings(5, 500),
        )
        .unwrap();
        assert_eq!(p2.discovery.items[0].erp_id, "50");
        assert_eq!(cursor_of(&p2.discovery), "c9");
        let p3 = poll(
            &mut erp(12, 10, false),
            Some("c9".into()),
            &settings(5, 500),
        )
        .unwrap();
        assert_eq!(p3.pages, 2);
        assert!(!p3.discovery.more);
    }

    #[test]
    fn stops_at_the_item_bound_after_a_whole_page() {
        let p = poll(&mut erp(10, 100, false), None, &settings(50, 250)).unwrap();
        assert_eq!(p.pages, 3);
        assert_eq!(p.discovery.items.len(), 300);
        assert!(p.discovery.more);
    }

    #[test]
    fn sticky_cursor_pages_on_to_the_hard_bound() {
        let p = poll(&mut erp(7, 1, true), Some("c".into()), &settings(2, 500)).unwrap();
        assert_eq!(p.pages, 7);
        assert!(!p.discovery.more);
        assert!(!p.stalled);
        assert_eq!(cursor_of(&p.discovery), "c6");
        let stalled = poll(&mut erp(20, 1, true), Some("c".into()), &settings(2, 500)).unwrap();
        assert_eq!(stalled.pages, 8);
        assert!(stalled.stalled);
        assert!(!stalled.discovery.more);
    }

    #[test]
    fn empty_poll_keeps_the_cursor() {
        let mut list = |c: Option<&str>, _p: Option<&str>| {
            Ok(ReadyPage {
                items: vec![],
                next_page: None,
                cursor: c.unwrap_or("c0").to_owned(),
            })
        };
        let p = poll(&mut list, Some("c7".into()), &settings(5, 500)).unwrap();
        assert!(p.discovery.items.is_empty());
        assert_eq!(cursor_of(&p.discovery), "c7");
    }

    #[test]
    fn errors_pass_through_and_bad_items_are_kept() {
        let mut down = |_: Option<&str>, _: Option<&str>| -> Result<ReadyPage> {
            Err(Error::Unavailable(mlc_plugin_sdk::RetryInfo {
                message: "503".into(),
                retry_after_ms: None,
            }))
        };
        assert!(
            poll(&mut down, None, &settings(5, 500))
                .unwrap_err()
                .is_retryable()
        );
        let mut bad = |_: Option<&str>, _: Option<&str>| {
            Ok(ReadyPage {
                items: vec![ReadyItem {
                    erp_id: "9".into(),
                    modified_at: 0,
                    shipment: Err(Error::invalid_input(
                        "shipment 9",
                        "ReceiverZipCode",
                        "missing",
                    )),
                }],
                next_page: None,
                cursor: "c9".into(),
            })
        };
        let p = poll(&mut bad, None, &settings(5, 500)).unwrap();
        assert!(p.discovery.items[0].shipment.is_err());
    }
}
