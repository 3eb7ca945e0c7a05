//! Reads from IFS: collections (following `@odata.nextLink`), single entities with their ETag,
//! handling units per shipment, and `get-shipment`.

use std::collections::BTreeMap;

use mlc_plugin_sdk::http::Response;
use mlc_plugin_sdk::{Error, Result, Shipment};

use crate::api::{self, Collection, Entity};
use crate::config::Settings;
use crate::mapping;
use crate::odata;
use crate::transport::{HttpRequest, Method, Transport};

/// Guards against a server whose `nextLink`s never end.
const MAX_FOLLOWED_PAGES: usize = 1000;

/// The connector's view of one IFS tenant.
pub struct Ifs<'a> {
    pub s: &'a Settings,
    pub t: &'a dyn Transport,
}

impl Ifs<'_> {
    /// Sends a request; a non-2xx status becomes the contract error for `what`.
    pub fn send(&self, req: HttpRequest, what: &str) -> Result<Response> {
        let resp = self.t.send(req)?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(api::status_error(&resp, what))
        }
    }

    /// GETs one collection page.
    pub fn collection(&self, url: &str, what: &str) -> Result<Collection> {
        let req = HttpRequest::new(Method::Get, url.to_owned()).header(
            "prefer",
            &format!("odata.maxpagesize={}", self.s.poll.page_size),
        );
        self.send(req, what)?.json()
    }

    /// GETs every page of a collection, following checked `nextLink`s.
    pub fn collection_all(&self, url: &str, service_url: &str, what: &str) -> Result<Vec<Entity>> {
        let mut out = Vec::new();
        let mut next = Some(url.to_owned());
        for _ in 0..MAX_FOLLOWED_PAGES {
            let Some(u) = next.take() else { return Ok(out) };
            let page = self.collection(&u, what)?;
            out.extend(page.value);
            next = page
                .next_link
                .map(|l| odata::checked_next_link(self.s, service_url, &l))
                .transpose()?;
        }
        Err(Error::internal(format!(
            "{what}: more than {MAX_FOLLOWED_PAGES} pages"
        )))
    }

    /// GETs one entity and its ETag (`@odata.etag`, else the `ETag` header).
    pub fn entity(&self, url: &str, what: &str) -> Result<(Entity, Option<String>)> {
        let resp = self.send(HttpRequest::new(Method::Get, url.to_owned()), what)?;
        let ent: Entity = resp.json()?;
        let etag = api::etag_of(&ent, Some(&resp));
        Ok((ent, etag))
    }

    /// `…/ShipmentHandling.svc`.
    pub fn shipment_service(&self) -> String {
        self.s.service_url(&self.s.shipment_projection)
    }

    /// `…/ShipmentHandling.svc/ShipmentSet`.
    pub fn shipments_url(&self) -> String {
        format!("{}/{}", self.shipment_service(), self.s.shipment_set)
    }

    /// `…/ShipmentSet(ShipmentId=10042)`; a malformed id is `invalid-input`.
    pub fn shipment_url(&self, erp_id: &str) -> Result<String> {
        let lit = odata::key_lit(
            self.s.key_type,
            erp_id,
            &mapping::subject(erp_id),
            &self.s.shipment_key,
        )?;
        Ok(odata::entity_url(
            &self.shipments_url(),
            &self.s.shipment_key,
            &lit,
        ))
    }

    /// Handling units of several shipments, grouped by shipment id, in key order. Nested units
    /// (with a parent, when `parcels.parent-field` is set) travel inside their parent.
    pub fn handling_units(&self, ids: &[String]) -> Result<BTreeMap<String, Vec<Entity>>> {
        let p = &self.s.parcels;
        let service = self.s.service_url(&p.projection);
        let mut out: BTreeMap<String, Vec<Entity>> = BTreeMap::new();
        for chunk in ids.chunks(p.batch_size) {
            let mut lits = Vec::with_capacity(chunk.len());
            for id in chunk {
                lits.push(odata::key_lit(
                    self.s.key_type,
                    id,
                    &mapping::subject(id),
                    &p.shipment_field,
                )?);
            }
            let url = format!(
                "{service}/{}{}",
                p.entity_set,
                odata::query(&[
                    ("$filter", odata::any_of(&p.shipment_field, &lits)),
                    ("$orderby", format!("{},{}", p.shipment_field, p.key)),
                ])
            );
            for hu in self.collection_all(&url, &service, &format!("GET {}", p.entity_set))? {
                if mapping::text(&hu, &p.parent_field).is_some() {
                    continue;
                }
                if let Some(sid) = mapping::text(&hu, &p.shipment_field) {
                    out.entry(sid).or_default().push(hu);
                }
            }
        }
        Ok(out)
    }

    /// `get-shipment`: the header, its handling units, mapped; `version` is the ETag.
    pub fn get_shipment(&self, erp_id: &str) -> Result<Shipment> {
        let url = self.shipment_url(erp_id)?;
        let (rec, etag) = self.entity(
            &url,
            &format!(
                "GET {}({}={erp_id})",
                self.s.shipment_set, self.s.shipment_key
            ),
        )?;
        let id = mapping::key_of(&rec, &self.s.shipment_key).unwrap_or_else(|| erp_id.to_owned());
        let hus = self.handling_units(std::slice::from_ref(&id))?;
        let refs: Vec<&Entity> = hus.get(&id).map(|v| v.iter().collect()).unwrap_or_default();
        mapping::shipment(&rec, &refs, self.s, etag)
    }
}
