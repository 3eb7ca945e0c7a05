//! The IFS Cloud simulator: Keycloak-style token endpoint and the OData projections
//! `ShipmentHandling.svc` and `CustomerOrderHandling.svc`.

pub(crate) mod odata;
pub(crate) mod routes;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Duration as CDuration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::SimClock;
use crate::SimError;
use crate::seed::{self, CARTONS, PARTS, SITES};
use crate::server::{RequestLog, RequestRecord};
use crate::util::{iso, lock};
use odata::{Ft, SetMeta};

/// An IFS entity as JSON fields (PascalCase names, as the OData service returns them).
pub type Entity = Map<String, Value>;

const SHIPMENT_STATES: &[&str] = &["Preliminary", "Completed", "Closed", "Cancelled"];
const ORDER_STATES: &[&str] = &[
    "Planned",
    "Blocked",
    "Released",
    "Reserved",
    "Picked",
    "PartiallyDelivered",
    "Delivered",
    "Invoiced",
    "Cancelled",
];

pub(crate) static SHIPMENT_META: SetMeta = SetMeta {
    name: "ShipmentSet",
    projection: "ShipmentHandling",
    fields: &[
        ("ShipmentId", Ft::Int),
        ("Objstate", Ft::Enum("ShipmentState", SHIPMENT_STATES)),
        ("Contract", Ft::Str),
        ("Company", Ft::Str),
        ("ShipmentType", Ft::Str),
        ("OrderNo", Ft::Str),
        ("CustomerPoNo", Ft::Str),
        ("ReceiverType", Ft::Str),
        ("ReceiverId", Ft::Str),
        ("ReceiverAddrId", Ft::Str),
        ("AddrFlag", Ft::Str),
        ("ReceiverAddressName", Ft::Str),
        ("ReceiverAddress1", Ft::Str),
        ("ReceiverAddress2", Ft::Str),
        ("ReceiverZipCode", Ft::Str),
        ("ReceiverCity", Ft::Str),
        ("ReceiverState", Ft::Str),
        ("ReceiverCounty", Ft::Str),
        ("ReceiverCountry", Ft::Str),
        ("ReceiverContact", Ft::Str),
        ("ReceiverPhone", Ft::Str),
        ("ShipViaCode", Ft::Str),
        ("ForwardAgentId", Ft::Str),
        ("DeliveryTerms", Ft::Str),
        ("RouteId", Ft::Str),
        ("PlannedShipDate", Ft::Dto),
        ("PlannedDeliveryDate", Ft::Dto),
        ("ActualShipDate", Ft::Dto),
        ("CodeB", Ft::Str),
        ("NetWeight", Ft::Dec),
        ("OperativeGrossWeight", Ft::Dec),
        ("UomForWeight", Ft::Str),
        ("OperationalVolume", Ft::Dec),
        ("UomForVolume", Ft::Str),
        ("NoOfHandlingUnits", Ft::Int),
        ("ProNo", Ft::Str),
        ("AirwayBillNo", Ft::Str),
        ("Cf$_CarrierShipmentId", Ft::Str),
        ("Cf$_TrackingStatus", Ft::Str),
        ("Cf$_TrackingEventCode", Ft::Str),
        ("Cf$_TrackingLastEvent", Ft::Str),
        ("Cf$_TrackingEventDate", Ft::Dto),
        ("Cf$_DeliveredDate", Ft::Dto),
        ("Cf$_Remark", Ft::Str),
        ("LastActivityDate", Ft::Dto),
    ],
};

/// Shipment fields a PATCH may not change.
pub(crate) const SHIPMENT_READ_ONLY: &[&str] = &[
    "ShipmentId",
    "Objstate",
    "Contract",
    "Company",
    "OrderNo",
    "LastActivityDate",
    "NoOfHandlingUnits",
];

pub(crate) static LINE_META: SetMeta = SetMeta {
    name: "ShipmentLineSet",
    projection: "ShipmentHandling",
    fields: &[
        ("ShipmentId", Ft::Int),
        ("ShipmentLineNo", Ft::Int),
        ("Contract", Ft::Str),
        ("SourceRefType", Ft::Str),
        ("SourceRef1", Ft::Str),
        ("SourceRef2", Ft::Str),
        ("SourceRef3", Ft::Str),
        ("SourceRef4", Ft::Str),
        ("InventoryPartNo", Ft::Str),
        ("SourcePartNo", Ft::Str),
        ("SourcePartDescription", Ft::Str),
        ("InventoryQty", Ft::Dec),
        ("QtyAssigned", Ft::Dec),
        ("QtyPicked", Ft::Dec),
        ("QtyToReserve", Ft::Dec),
        ("SourceUnitMeas", Ft::Str),
    ],
};

pub(crate) static HU_META: SetMeta = SetMeta {
    name: "HandlingUnitSet",
    projection: "ShipmentHandling",
    fields: &[
        ("HandlingUnitId", Ft::Int),
        ("ShipmentId", Ft::Int),
        ("HandlingUnitTypeId", Ft::Str),
        ("Description", Ft::Str),
        ("Sscc", Ft::Str),
        ("ManualGrossWeight", Ft::Dec),
        ("TareWeight", Ft::Dec),
        ("UomForWeight", Ft::Str),
        ("Depth", Ft::Dec),
        ("Width", Ft::Dec),
        ("Height", Ft::Dec),
        ("UomForLength", Ft::Str),
    ],
};

pub(crate) static ORDER_META: SetMeta = SetMeta {
    name: "CustomerOrderSet",
    projection: "CustomerOrderHandling",
    fields: &[
        ("OrderNo", Ft::Str),
        ("Objstate", Ft::Enum("CustomerOrderState", ORDER_STATES)),
        ("Contract", Ft::Str),
        ("Company", Ft::Str),
        ("CustomerNo", Ft::Str),
        ("CustomerPoNo", Ft::Str),
        ("CurrencyCode", Ft::Str),
        ("ShipAddrNo", Ft::Str),
        ("BillAddrNo", Ft::Str),
        ("ShipViaCode", Ft::Str),
        ("DeliveryTerms", Ft::Str),
        ("DateEntered", Ft::Dto),
        ("WantedDeliveryDate", Ft::Dto),
        ("CodeB", Ft::Str),
        ("ChargesExist", Ft::Bool),
    ],
};

pub(crate) static CHARGE_META: SetMeta = SetMeta {
    name: "CustomerOrderChargeArray",
    projection: "CustomerOrderHandling",
    fields: &[
        ("OrderNo", Ft::Str),
        ("SequenceNo", Ft::Int),
        ("Contract", Ft::Str),
        ("Company", Ft::Str),
        ("ChargeType", Ft::Str),
        ("ChargeAmount", Ft::Dec),
        ("ChargeAmountInclTax", Ft::Dec),
        ("ChargeCost", Ft::Dec),
        ("ChargedQty", Ft::Dec),
        ("SalesUnitMeas", Ft::Str),
        ("CurrencyCode", Ft::Str),
        ("TaxCode", Ft::Str),
        ("ShipmentId", Ft::Int),
        ("CollectDb", Ft::Str),
        ("Cf$_ExternalRef", Ft::Str),
        ("CodeB", Ft::Str),
        ("CodeC", Ft::Str),
        ("CodeD", Ft::Str),
        ("DateEntered", Ft::Dto),
    ],
};

/// Charge fields a POST may set.
pub(crate) const CHARGE_WRITABLE: &[&str] = &[
    "ChargeType",
    "ChargeAmount",
    "ChargeAmountInclTax",
    "ChargeCost",
    "ChargedQty",
    "SalesUnitMeas",
    "TaxCode",
    "ShipmentId",
    "CollectDb",
    "Cf$_ExternalRef",
    "CodeB",
    "CodeC",
    "CodeD",
];

/// One stored record plus its concurrency token.
#[derive(Clone, Debug)]
pub(crate) struct Ent {
    pub(crate) f: Entity,
    objid: String,
    rev: u64,
    version: String,
}

impl Ent {
    fn new(f: Entity, objid: String, at: DateTime<Utc>) -> Self {
        Ent {
            f,
            objid,
            rev: 1,
            version: at.format("%Y%m%d%H%M%S").to_string(),
        }
    }

    /// IFS-style weak ETag: base64 of `objid:objversion`.
    pub(crate) fn etag(&self) -> String {
        let raw = format!("W/\"{}:{}.{}\"", self.objid, self.version, self.rev);
        format!("W/\"{}\"", B64.encode(raw))
    }

    fn touch(&mut self, now: DateTime<Utc>, stamp_field: Option<&str>) {
        self.rev += 1;
        self.version = now.format("%Y%m%d%H%M%S").to_string();
        if let Some(fld) = stamp_field {
            self.f.insert(fld.to_string(), Value::String(iso(now)));
        }
    }

    /// The entity as served: `@odata.etag` first, then the fields.
    pub(crate) fn to_json(
        &self,
        select: Option<&[String]>,
        luname: Option<(&str, String)>,
    ) -> Entity {
        let mut out = Map::new();
        out.insert("@odata.etag".into(), Value::String(self.etag()));
        match select {
            Some(fields) if !fields.is_empty() => {
                for k in fields {
                    out.insert(k.clone(), self.f.get(k).cloned().unwrap_or(Value::Null));
                }
            }
            _ => {
                for (k, v) in &self.f {
                    out.insert(k.clone(), v.clone());
                }
                if let Some((lu, keyref)) = luname {
                    out.insert("luname".into(), Value::String(lu.to_string()));
                    out.insert("keyref".into(), Value::String(keyref));
                }
            }
        }
        out
    }
}

/// A write done to an IFS record, for inspection.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WriteRecord {
    /// Simulated time of the write.
    pub at: DateTime<Utc>,
    /// The record, e.g. `ShipmentSet(ShipmentId=10001)`.
    pub entity: String,
    /// `api` (OData PATCH/POST), `operator` (control API) or `other-user` (concurrent-edit fault).
    pub by: String,
    /// Field names changed.
    pub fields: Vec<String>,
}

/// The whole IFS state, as the inspection API reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IfsSnapshot {
    /// Simulated time of the snapshot.
    pub now: DateTime<Utc>,
    /// `ShipmentSet` records, each with its current `@odata.etag`.
    pub shipments: Vec<Entity>,
    /// `ShipmentLineSet` records.
    pub shipment_lines: Vec<Entity>,
    /// `HandlingUnitSet` records.
    pub handling_units: Vec<Entity>,
    /// `CustomerOrderSet` records.
    pub orders: Vec<Entity>,
    /// `CustomerOrderChargeArray` records per order number.
    pub charges: BTreeMap<String, Vec<Entity>>,
    /// Access tokens issued in total.
    pub tokens_issued: u64,
    /// Access tokens issued per UTC day (`YYYY-MM-DD`, simulated clock).
    pub tokens_by_day: BTreeMap<String, u64>,
    /// Every write, in order.
    pub writes: Vec<WriteRecord>,
    /// Requests received per route key.
    pub requests_by_route: BTreeMap<String, u64>,
}

pub(crate) struct IfsConfig {
    pub(crate) realm: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) token_lifetime: Duration,
    pub(crate) page_cap: usize,
    pub(crate) base_url: String,
}

pub(crate) struct IfsData {
    pub(crate) shipments: BTreeMap<i64, Ent>,
    pub(crate) lines: Vec<Ent>,
    pub(crate) hus: BTreeMap<i64, Ent>,
    pub(crate) orders: BTreeMap<String, Ent>,
    pub(crate) charges: BTreeMap<String, Vec<Ent>>,
    pub(crate) tokens: HashMap<String, DateTime<Utc>>,
    pub(crate) tokens_issued: u64,
    pub(crate) tokens_by_day: BTreeMap<String, u64>,
    pub(crate) writes: Vec<WriteRecord>,
    pub(crate) rng: StdRng,
    next_objid: u64,
}

impl IfsData {
    pub(crate) fn new_objid(&mut self) -> String {
        self.next_objid += 1;
        format!("AAAX{:014X}", self.next_objid)
    }
}

pub(crate) struct IfsState {
    pub(crate) data: Mutex<IfsData>,
    pub(crate) cfg: IfsConfig,
    pub(crate) clock: SimClock,
    pub(crate) log: Arc<RequestLog>,
}

/// Seeding parameters.
pub(crate) struct SeedParams {
    pub(crate) shipments: usize,
    pub(crate) seed: u64,
    pub(crate) bad_addresses: bool,
}

fn obj(v: Value) -> Entity {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

impl IfsState {
    pub(crate) fn new(
        cfg: IfsConfig,
        clock: SimClock,
        log: Arc<RequestLog>,
        p: &SeedParams,
    ) -> Self {
        let mut data = IfsData {
            shipments: BTreeMap::new(),
            lines: Vec::new(),
            hus: BTreeMap::new(),
            orders: BTreeMap::new(),
            charges: BTreeMap::new(),
            tokens: HashMap::new(),
            tokens_issued: 0,
            tokens_by_day: BTreeMap::new(),
            writes: Vec::new(),
            rng: StdRng::seed_from_u64(p.seed ^ 0x1f5_c10d),
            next_objid: 0,
        };
        seed_data(&mut data, clock.now(), p);
        IfsState {
            data: Mutex::new(data),
            cfg,
            clock,
            log,
        }
    }
}

/// Builds the seed: `p.shipments` shipments in state `Completed` (ready to ship), plus a few
/// `Preliminary` and `Closed` ones, with orders, lines and handling units.
fn seed_data(d: &mut IfsData, now: DateTime<Utc>, p: &SeedParams) {
    let mut rng = StdRng::seed_from_u64(p.seed);
    let now = now.with_nanosecond(0).unwrap_or(now);
    let extra = p.shipments / 10 + 2;
    let total = p.shipments + extra;
    let mut hu_id: i64 = 500_000;
    let mut order_seq: u64 = 1_000_012_000;
    let mut prev_order: Option<String> = None;
    let mut prev_parties = (0, 0);
    for i in 0..total {
        let ready = i < p.shipments;
        let shipment_id = 10_001 + i as i64;
        let (mut site_idx, mut rcv_idx) = if rng.random_bool(0.55) {
            (0, rng.random_range(0..seed::US_RECEIVERS.len()))
        } else {
            (1, rng.random_range(0..seed::EU_RECEIVERS.len()))
        };
        // A second delivery of an order (every tenth shipment, below) leaves from the order's
        // site to the order's customer: an order has one company and one currency.
        if prev_order.is_some() && i % 10 == 9 {
            (site_idx, rcv_idx) = prev_parties;
        }
        prev_parties = (site_idx, rcv_idx);
        // Deterministic bad addresses (documented in README.md): by position in the seed.
        let mut bad: Option<(String, String)> = None;
        if ready && p.bad_addresses {
            if i % 20 == 7 {
                let (r, zip) = seed::AMBIGUOUS_ZIPS[(i / 20) % seed::AMBIGUOUS_ZIPS.len()];
                site_idx = 0;
                rcv_idx = r;
                bad = Some((seed::US_RECEIVERS[r].city.to_string(), zip.to_string()));
            } else if i % 20 == 13 {
                let (r, city, zip) = seed::UNKNOWN_CITIES[(i / 20) % seed::UNKNOWN_CITIES.len()];
                site_idx = 0;
                rcv_idx = r;
                bad = Some((city.to_string(), zip.to_string()));
            }
        }
        let site = &SITES[site_idx];
        let rc = if site_idx == 0 {
            &seed::US_RECEIVERS[rcv_idx]
        } else {
            &seed::EU_RECEIVERS[rcv_idx]
        };
        let (city, zip) = bad.unwrap_or((rc.city.to_string(), rc.zip.to_string()));
        let ship_via = match (site.country, rc.country) {
            ("US", "US") => {
                ["UPSGND", "UPSGND", "UPSGND", "UPS2DA", "UPSNDA", "UPS3DS"][rng.random_range(0..6)]
            }
            ("US", _) => ["UPSSTD", "UPSSTD", "UPSEXP"][rng.random_range(0..3)],
            _ => ["UPSSTD", "UPSSTD", "UPSSTD", "UPSEXP", "UPSSVR"][rng.random_range(0..5)],
        };
        // Groups of three shipments share the same modification second (cursor tests).
        let group = (i / 3) as i64;
        let modified =
            now - CDuration::minutes(7 * (total as i64 / 3 + 1 - group)) - CDuration::hours(1);
        let planned = (now + CDuration::days(rng.random_range(0..2)))
            .with_hour(16)
            .and_then(|t| t.with_minute(0))
            .and_then(|t| t.with_second(0))
            .unwrap_or(now);
        let order_no = match (&prev_order, i % 10 == 9) {
            // Every tenth shipment is a second delivery of the previous order.
            (Some(o), true) => o.clone(),
            _ => {
                order_seq += 1;
                format!("C{order_seq}")
            }
        };
        let po = format!("PO-{}-{:05}", rc.customer_no, 10_000 + i * 37 % 90_000);
        let state = if ready {
            "Completed"
        } else if i % 3 == 0 {
            "Closed"
        } else {
            "Preliminary"
        };
        // Handling units: site units, with every seventh US shipment in metric (mixed data).
        let metric = site_idx == 1 || i % 7 == 3;
        let (wu, lu) = if metric { ("KGS", "CM") } else { ("LBS", "IN") };
        let n_hu = rng.random_range(1..=3);
        let mut gross = 0.0;
        let mut tare_sum = 0.0;
        let mut volume = 0.0;
        for h in 0..n_hu {
            hu_id += 1;
            let (typ, cm, inch) = CARTONS[rng.random_range(0..CARTONS.len())];
            let dims = if metric { cm } else { inch };
            let (w, tare) = if metric {
                (round1(rng.random_range(2.5..18.0)), 0.4)
            } else {
                (round1(rng.random_range(5.0..40.0)), 0.9)
            };
            gross += w;
            tare_sum += tare;
            volume += if metric {
                dims[0] * dims[1] * dims[2] / 1_000_000.0
            } else {
                dims[0] * dims[1] * dims[2] / 1728.0
            };
            let objid = d.new_objid();
            let hu = obj(json!({
                "HandlingUnitId": hu_id,
                "ShipmentId": shipment_id,
                "HandlingUnitTypeId": typ,
                "Description": format!("{typ} {}/{}", h + 1, n_hu),
                "Sscc": format!("00387123450{:07}", hu_id % 10_000_000),
                "ManualGrossWeight": num(w),
                "TareWeight": num(tare),
                "UomForWeight": wu,
                "Depth": num(dims[0]),
                "Width": num(dims[1]),
                "Height": num(dims[2]),
                "UomForLength": lu,
            }));
            d.hus.insert(hu_id, Ent::new(hu, objid, modified));
        }
        let n_lines = rng.random_range(1..=4);
        for l in 0..n_lines {
            let (part, desc) = PARTS[rng.random_range(0..PARTS.len())];
            let qty = f64::from(rng.random_range(6..=120));
            let objid = d.new_objid();
            let line = obj(json!({
                "ShipmentId": shipment_id,
                "ShipmentLineNo": l + 1,
                "Contract": site.contract,
                "SourceRefType": "CustomerOrder",
                "SourceRef1": order_no,
                "SourceRef2": (l + 1).to_string(),
                "SourceRef3": "1",
                "SourceRef4": "0",
                "InventoryPartNo": part,
                "SourcePartNo": part,
                "SourcePartDescription": desc,
                "InventoryQty": num(qty),
                "QtyAssigned": num(qty),
                "QtyPicked": num(qty),
                "QtyToReserve": 0,
                "SourceUnitMeas": "PCS",
            }));
            d.lines.push(Ent::new(line, objid, modified));
        }
        let closed = state == "Closed";
        let objid = d.new_objid();
        let shipment = obj(json!({
            "ShipmentId": shipment_id,
            "Objstate": state,
            "Contract": site.contract,
            "Company": site.company,
            "ShipmentType": "NA",
            "OrderNo": order_no,
            "CustomerPoNo": po,
            "ReceiverType": "Customer",
            "ReceiverId": rc.customer_no,
            "ReceiverAddrId": "01",
            "AddrFlag": "N",
            "ReceiverAddressName": rc.name,
            "ReceiverAddress1": rc.line1,
            "ReceiverAddress2": if rc.line2.is_empty() { Value::Null } else { Value::String(rc.line2.into()) },
            "ReceiverZipCode": zip,
            "ReceiverCity": city,
            "ReceiverState": if rc.state.is_empty() { Value::Null } else { Value::String(rc.state.into()) },
            "ReceiverCounty": Value::Null,
            "ReceiverCountry": rc.country,
            "ReceiverContact": rc.contact,
            "ReceiverPhone": rc.phone,
            "ShipViaCode": ship_via,
            "ForwardAgentId": "UPS",
            "DeliveryTerms": if site.country == rc.country { "FCA" } else { "DAP" },
            "RouteId": format!("R-{}", rc.country),
            "PlannedShipDate": iso(planned),
            "PlannedDeliveryDate": iso(planned + CDuration::days(3)),
            "ActualShipDate": if closed { Value::String(iso(modified)) } else { Value::Null },
            "CodeB": site.cost_center,
            "NetWeight": num(round1(gross - tare_sum)),
            "OperativeGrossWeight": num(round1(gross)),
            "UomForWeight": wu,
            "OperationalVolume": num((volume * 1000.0).round() / 1000.0),
            "UomForVolume": if metric { "m3" } else { "ft3" },
            "NoOfHandlingUnits": n_hu,
            "ProNo": if closed { Value::String(format!("1Z9W1A470{:09}", shipment_id)) } else { Value::Null },
            "AirwayBillNo": Value::Null,
            "Cf$_CarrierShipmentId": Value::Null,
            "Cf$_TrackingStatus": if closed { Value::String("Delivered".into()) } else { Value::Null },
            "Cf$_TrackingEventCode": Value::Null,
            "Cf$_TrackingLastEvent": Value::Null,
            "Cf$_TrackingEventDate": Value::Null,
            "Cf$_DeliveredDate": Value::Null,
            "Cf$_Remark": Value::Null,
            "LastActivityDate": iso(modified),
        }));
        d.shipments
            .insert(shipment_id, Ent::new(shipment, objid, modified));
        if prev_order.as_deref() != Some(order_no.as_str()) {
            let objid = d.new_objid();
            let order = obj(json!({
                "OrderNo": order_no,
                "Objstate": if ready { "Reserved" } else if closed { "Delivered" } else { "Released" },
                "Contract": site.contract,
                "Company": site.company,
                "CustomerNo": rc.customer_no,
                "CustomerPoNo": po,
                "CurrencyCode": site.currency,
                "ShipAddrNo": "01",
                "BillAddrNo": "01",
                "ShipViaCode": ship_via,
                "DeliveryTerms": if site.country == rc.country { "FCA" } else { "DAP" },
                "DateEntered": iso(modified - CDuration::days(4)),
                "WantedDeliveryDate": iso(planned + CDuration::days(3)),
                "CodeB": site.cost_center,
                "ChargesExist": false,
            }));
            d.orders
                .insert(order_no.clone(), Ent::new(order, objid, modified));
            d.charges.insert(order_no.clone(), Vec::new());
        }
        prev_order = Some(order_no);
    }
}

/// Checks a JSON value against a field type for writes.
pub(crate) fn check_type(name: &str, ft: Ft, v: &Value) -> Result<(), String> {
    let ok = match (ft, v) {
        (_, Value::Null) => true,
        (Ft::Str, Value::String(_)) => true,
        (Ft::Int, Value::Number(n)) => n.is_i64(),
        (Ft::Dec, Value::Number(_)) => true,
        (Ft::Bool, Value::Bool(_)) => true,
        (Ft::Dto, Value::String(s)) => odata::parse_dto(s).is_some(),
        (Ft::Enum(_, members), Value::String(s)) => members.contains(&s.as_str()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("invalid value for property '{name}'"))
    }
}

impl IfsState {
    /// Applies `changes` to a shipment (validated), bumping ETag and `LastActivityDate`.
    pub(crate) fn apply_shipment_changes(
        d: &mut IfsData,
        now: DateTime<Utc>,
        id: i64,
        changes: &Entity,
        by: &str,
    ) -> Result<(), (u16, String)> {
        let mut fields = Vec::new();
        for (k, v) in changes {
            if k.starts_with('@') {
                continue;
            }
            let ft = SHIPMENT_META
                .field(k)
                .ok_or_else(|| (400, format!("property '{k}' does not exist on ShipmentSet")))?;
            if SHIPMENT_READ_ONLY.contains(&k.as_str()) {
                return Err((400, format!("property '{k}' is read-only")));
            }
            check_type(k, ft, v).map_err(|m| (400, m))?;
            fields.push(k.clone());
        }
        let ent = d
            .shipments
            .get_mut(&id)
            .ok_or_else(|| (404, format!("ShipmentSet(ShipmentId={id}) not found")))?;
        for k in &fields {
            if let Some(v) = changes.get(k) {
                ent.f.insert(k.clone(), v.clone());
            }
        }
        ent.touch(now, Some("LastActivityDate"));
        d.writes.push(WriteRecord {
            at: now,
            entity: format!("ShipmentSet(ShipmentId={id})"),
            by: by.to_string(),
            fields,
        });
        Ok(())
    }

    /// Another user changes the shipment (concurrent-edit fault): a remark, so the ETag and
    /// `LastActivityDate` move and the caller's ETag goes stale.
    pub(crate) fn other_user_edit(d: &mut IfsData, now: DateTime<Utc>, id: i64) {
        let mut ch = Map::new();
        ch.insert(
            "Cf$_Remark".into(),
            Value::String(format!("Checked by IFSAPP (another user) at {}", iso(now))),
        );
        let _ = Self::apply_shipment_changes(d, now, id, &ch, "other-user");
    }

    pub(crate) fn snapshot(&self) -> IfsSnapshot {
        let d = lock(&self.data);
        let full = |e: &Ent| e.to_json(None, None);
        IfsSnapshot {
            now: self.clock.now(),
            shipments: d.shipments.values().map(full).collect(),
            shipment_lines: d.lines.iter().map(full).collect(),
            handling_units: d.hus.values().map(full).collect(),
            orders: d.orders.values().map(full).collect(),
            charges: d
                .charges
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(full).collect()))
                .collect(),
            tokens_issued: d.tokens_issued,
            tokens_by_day: d.tokens_by_day.clone(),
            writes: d.writes.clone(),
            requests_by_route: self.log.counts(),
        }
    }
}

/// In-process handle on the IFS simulator's state.
#[derive(Clone)]
pub struct IfsHandle {
    pub(crate) state: Arc<IfsState>,
}

impl IfsHandle {
    /// Everything: shipments, lines, handling units, orders, charges, tokens, writes.
    pub fn snapshot(&self) -> IfsSnapshot {
        self.state.snapshot()
    }

    /// One shipment (with `@odata.etag`), if it exists.
    pub fn shipment(&self, id: i64) -> Option<Entity> {
        lock(&self.state.data)
            .shipments
            .get(&id)
            .map(|e| e.to_json(None, None))
    }

    /// Ids of the shipments in state `Completed` (ready to ship), ascending.
    pub fn ready_shipment_ids(&self) -> Vec<i64> {
        lock(&self.state.data)
            .shipments
            .iter()
            .filter(|(_, e)| e.f.get("Objstate").and_then(Value::as_str) == Some("Completed"))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Charges posted on an order.
    pub fn charges(&self, order_no: &str) -> Vec<Entity> {
        lock(&self.state.data)
            .charges
            .get(order_no)
            .map(|v| v.iter().map(|e| e.to_json(None, None)).collect())
            .unwrap_or_default()
    }

    /// Edits a shipment as an operator would in the IFS client (e.g. to correct an address).
    /// Bumps the ETag and `LastActivityDate`. Returns the updated shipment.
    pub fn edit_shipment(&self, id: i64, changes: &Entity) -> Result<Entity, SimError> {
        let now = self.state.clock.now();
        let mut d = lock(&self.state.data);
        IfsState::apply_shipment_changes(&mut d, now, id, changes, "operator").map_err(
            |(code, m)| {
                if code == 404 {
                    SimError::NotFound(m)
                } else {
                    SimError::Invalid(m)
                }
            },
        )?;
        d.shipments
            .get(&id)
            .map(|e| e.to_json(None, None))
            .ok_or_else(|| SimError::NotFound(format!("shipment {id}")))
    }

    /// Requests received, optionally only for one route key.
    pub fn requests(&self, route: Option<&str>) -> Vec<RequestRecord> {
        self.state.log.records(route)
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        lock(&self.state.data).tokens_issued
    }
}
