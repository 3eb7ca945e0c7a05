//! An in-memory IFS tenant behind the [`Transport`] seam, shaped like the IFS simulator
//! (`tests/simulators/src/ifs`): ShipmentSet, HandlingUnitSet, CustomerOrderSet and its
//! CustomerOrderChargeArray; `$filter` (the subset the connector writes), `$orderby`, `$top`,
//! `$skip`, `$count`, server-driven paging with offset `$skiptoken`s; weak base64 ETags;
//! 428 without `If-Match`, 412 on a stale one; hooks to play another user between requests.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use mlc_plugin_sdk::Result;
use mlc_plugin_sdk::http::Response;
use serde_json::{Map, Value, json};

use crate::api::Entity;
use crate::odata::{format_timestamp, parse_timestamp};
use crate::transport::{HttpRequest, Method, Transport};

pub const ORIGIN: &str = "http://ifs.test:8080";
pub const PREFIX: &str = "/main/ifsapplications/projection/v1";

/// A record and its revision (the ETag is derived from both).
#[derive(Clone, Debug)]
pub struct Rec {
    pub f: Entity,
    pub rev: u64,
}

impl Rec {
    pub fn etag(&self, id: &str) -> String {
        format!("W/\"{id}:{}\"", self.rev)
    }
}

type Hook = Box<dyn FnMut(&HttpRequest, &mut State)>;

#[derive(Default)]
pub struct State {
    pub shipments: BTreeMap<i64, Rec>,
    pub hus: Vec<Entity>,
    pub orders: BTreeMap<String, Entity>,
    pub charges: BTreeMap<String, Vec<Entity>>,
    /// Rows per response before a `nextLink` (server-driven paging).
    pub page_cap: usize,
    /// The simulated clock, ms.
    pub now: i64,
    /// Requests answered so far, in order.
    pub log: Vec<HttpRequest>,
}

impl State {
    /// Another user saves a shipment: a remark, a new revision, and `LastActivityDate` = now.
    pub fn touch(&mut self, id: i64, changes: &[(&str, Value)]) {
        let now = format_timestamp(self.now);
        if let Some(r) = self.shipments.get_mut(&id) {
            for (k, v) in changes {
                r.f.insert((*k).to_owned(), v.clone());
            }
            r.f.insert("LastActivityDate".into(), Value::String(now));
            r.rev += 1;
        }
    }
}

pub struct FakeIfs {
    pub st: RefCell<State>,
    pub hooks: RefCell<Vec<Hook>>,
}

fn ok(status: u16, body: Value, etag: Option<String>) -> Response {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(e) = etag {
        headers.push(("etag".into(), e));
    }
    Response {
        status,
        headers,
        body: if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        },
    }
}

fn err(status: u16, code: &str, message: &str) -> Response {
    ok(
        status,
        json!({"error": {"code": code, "message": message}}),
        None,
    )
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn params(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

impl FakeIfs {
    pub fn new(st: State) -> Self {
        FakeIfs {
            st: RefCell::new(st),
            hooks: RefCell::new(Vec::new()),
        }
    }

    pub fn hook(&self, h: impl FnMut(&HttpRequest, &mut State) + 'static) {
        self.hooks.borrow_mut().push(Box::new(h));
    }

    pub fn requests(&self) -> Vec<HttpRequest> {
        self.st.borrow().log.clone()
    }

    fn handle(&self, req: &HttpRequest) -> Response {
        let mut st = self.st.borrow_mut();
        let Some(rest) = req.url.strip_prefix(&format!("{ORIGIN}{PREFIX}/")) else {
            return err(404, "ODP_RESOURCE_NOTFOUND", "wrong host or prefix");
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = decode(path);
        let q = params(query);
        match (req.method, path.as_str()) {
            (Method::Get, "ShipmentHandling.svc/ShipmentSet") => {
                let rows: Vec<Entity> = st
                    .shipments
                    .iter()
                    .map(|(id, r)| with_etag(&r.f, r.etag(&id.to_string())))
                    .collect();
                collection(
                    &st,
                    rows,
                    &q,
                    "ShipmentHandling.svc/ShipmentSet",
                    &["ShipmentId"],
                )
            }
            (Method::Get, "ShipmentHandling.svc/HandlingUnitSet") => {
                let rows = st.hus.clone();
                collection(
                    &st,
                    rows,
                    &q,
                    "ShipmentHandling.svc/HandlingUnitSet",
                    &["HandlingUnitId"],
                )
            }
            (m, p) if p.starts_with("ShipmentHandling.svc/ShipmentSet(ShipmentId=") => {
                let id: i64 = p
                    .trim_start_matches("ShipmentHandling.svc/ShipmentSet(ShipmentId=")
                    .trim_end_matches(')')
                    .parse()
                    .unwrap();
                let Some(rec) = st.shipments.get(&id).cloned() else {
                    return err(404, "ODP_RESOURCE_NOTFOUND", "no such shipment");
                };
                let etag = rec.etag(&id.to_string());
                match m {
                    Method::Get => ok(
                        200,
                        Value::Object(with_etag(&rec.f, etag.clone())),
                        Some(etag),
                    ),
                    Method::Patch => {
                        let Some(if_match) = req.header_value("if-match") else {
                            return err(
                                428,
                                "ODP_MISSING_PRECONDITION",
                                "The request must contain an If-Match header.",
                            );
                        };
                        if if_match != etag {
                            return err(
                                412,
                                "ODP_PRECONDITION_FAILED",
                                "The record has been modified by another user.",
                            );
                        }
                        assert_eq!(req.header_value("content-type"), Some("application/json"));
                        let changes: Map<String, Value> =
                            serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
                        let ch: Vec<(&str, Value)> = changes
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.clone()))
                            .collect();
                        st.touch(id, &ch);
                        let e = st.shipments[&id].etag(&id.to_string());
                        ok(204, Value::Null, Some(e))
                    }
                    Method::Post => err(405, "ODP_METHOD_NOT_ALLOWED", "no"),
                }
            }
            (m, p) if p.starts_with("CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='") => {
                let inner =
                    p.trim_start_matches("CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='");
                let (order, nav) = inner.split_once("')").unwrap();
                let order = order.replace("''", "'");
                let Some(o) = st.orders.get(&order).cloned() else {
                    return err(404, "ODP_RESOURCE_NOTFOUND", "no such order");
                };
                match (m, nav) {
                    (Method::Get, "") => {
                        ok(200, Value::Object(with_etag(&o, "W/\"o\"".into())), None)
                    }
                    (Method::Get, "/CustomerOrderChargeArray") => {
                        let rows = st.charges.get(&order).cloned().unwrap_or_default();
                        collection(&st, rows, &q, "x", &["SequenceNo"])
                    }
                    (Method::Post, "/CustomerOrderChargeArray") => {
                        let mut body: Map<String, Value> =
                            serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
                        for k in [
                            "Contract",
                            "Company",
                            "CurrencyCode",
                            "OrderNo",
                            "SequenceNo",
                        ] {
                            if body.contains_key(k) {
                                return err(
                                    400,
                                    "ODP_VALIDATION_ERROR",
                                    &format!("property '{k}' is read-only"),
                                );
                            }
                        }
                        let list = st.charges.entry(order.clone()).or_default();
                        body.insert("OrderNo".into(), json!(order));
                        body.insert("SequenceNo".into(), json!(list.len() + 1));
                        body.insert("CurrencyCode".into(), o["CurrencyCode"].clone());
                        list.push(body.clone());
                        ok(201, Value::Object(body), None)
                    }
                    _ => err(404, "ODP_RESOURCE_NOTFOUND", "nav"),
                }
            }
            _ => err(
                404,
                "ODP_RESOURCE_NOTFOUND",
                &format!("unknown path {path}"),
            ),
        }
    }
}

impl Transport for FakeIfs {
    fn send(&self, req: HttpRequest) -> Result<Response> {
        {
            let mut hooks = self.hooks.borrow_mut();
            let mut st = self.st.borrow_mut();
            for h in hooks.iter_mut() {
                h(&req, &mut st);
            }
        }
        let resp = self.handle(&req);
        self.st.borrow_mut().log.push(req);
        Ok(resp)
    }
}

fn with_etag(f: &Entity, etag: String) -> Entity {
    let mut m = Map::new();
    m.insert("@odata.etag".into(), Value::String(etag));
    m.extend(f.clone());
    m
}

fn collection(
    st: &State,
    rows: Vec<Entity>,
    q: &BTreeMap<String, String>,
    path: &str,
    keys: &[&str],
) -> Response {
    let filter = q.get("$filter").map(|f| Parser::parse(f));
    let mut rows: Vec<Entity> = rows
        .into_iter()
        .filter(|r| filter.as_ref().is_none_or(|f| f.eval(r)))
        .collect();
    let mut order: Vec<String> = q
        .get("$orderby")
        .map(|o| {
            o.split(',')
                .map(|i| i.split_whitespace().next().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    order.extend(keys.iter().map(|k| (*k).to_owned()));
    rows.sort_by(|a, b| {
        order
            .iter()
            .map(|k| cmp_values(a.get(k), b.get(k)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    let total = rows.len();
    let skip: usize = q.get("$skip").map_or(0, |s| s.parse().unwrap());
    let rows: Vec<Entity> = rows.into_iter().skip(skip).collect();
    let rows: Vec<Entity> = match q.get("$top") {
        Some(t) => rows.into_iter().take(t.parse().unwrap()).collect(),
        None => rows,
    };
    let start: usize = q.get("$skiptoken").map_or(0, |s| s.parse().unwrap());
    let cap = if st.page_cap == 0 {
        usize::MAX
    } else {
        st.page_cap
    };
    let end = (start + cap).min(rows.len());
    let mut out = Map::new();
    if q.get("$count").map(String::as_str) == Some("true") {
        out.insert("@odata.count".into(), json!(total));
    }
    out.insert(
        "value".into(),
        Value::Array(
            rows[start.min(rows.len())..end]
                .iter()
                .cloned()
                .map(Value::Object)
                .collect(),
        ),
    );
    if end < rows.len() {
        let passthrough: Vec<String> = q
            .iter()
            .filter(|(k, _)| *k != "$skiptoken")
            .map(|(k, v)| format!("{k}={}", mlc_plugin_sdk::http::encode_component(v)))
            .collect();
        out.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{ORIGIN}{PREFIX}/{path}?{}&$skiptoken={end}",
                passthrough.join("&")
            )),
        );
    }
    ok(200, Value::Object(out), None)
}

fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap()
        }
        (Some(Value::String(x)), Some(Value::String(y))) => {
            match (parse_timestamp(x), parse_timestamp(y)) {
                (Some(p), Some(q)) => p.cmp(&q),
                _ => x.cmp(y),
            }
        }
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `$filter` AST for the subset the connector writes.
#[derive(Debug)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(String, String, Lit),
}

#[derive(Debug)]
enum Lit {
    Str(String),
    Num(f64),
    Time(i64),
    Enum(String),
}

struct Parser {
    toks: Vec<String>,
    pos: usize,
}

impl Parser {
    fn parse(src: &str) -> Expr {
        let mut toks = Vec::new();
        let c: Vec<char> = src.chars().collect();
        let mut i = 0;
        while i < c.len() {
            match c[i] {
                ' ' => i += 1,
                '(' | ')' => {
                    toks.push(c[i].to_string());
                    i += 1;
                }
                _ => {
                    let st = i;
                    let mut in_q = false;
                    while i < c.len() && (in_q || !matches!(c[i], ' ' | '(' | ')')) {
                        if c[i] == '\'' {
                            in_q = !in_q;
                        }
                        i += 1;
                    }
                    toks.push(c[st..i].iter().collect());
                }
            }
        }
        let mut p = Parser { toks, pos: 0 };
        let e = p.or();
        assert_eq!(p.pos, p.toks.len(), "trailing filter input in {src}");
        e
    }
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }
    fn next(&mut self) -> String {
        self.pos += 1;
        self.toks[self.pos - 1].clone()
    }
    fn or(&mut self) -> Expr {
        let mut l = self.and();
        while self.peek() == Some("or") {
            self.pos += 1;
            l = Expr::Or(Box::new(l), Box::new(self.and()));
        }
        l
    }
    fn and(&mut self) -> Expr {
        let mut l = self.prim();
        while self.peek() == Some("and") {
            self.pos += 1;
            l = Expr::And(Box::new(l), Box::new(self.prim()));
        }
        l
    }
    fn prim(&mut self) -> Expr {
        if self.peek() == Some("(") {
            self.pos += 1;
            let e = self.or();
            assert_eq!(self.next(), ")");
            return e;
        }
        let field = self.next();
        let op = self.next();
        let lit = self.next();
        let lit = if let Some(s) = lit.strip_prefix('\'') {
            Lit::Str(s.strip_suffix('\'').unwrap().replace("''", "'"))
        } else if let Some(q) = lit.find('\'') {
            assert!(
                lit.starts_with("IfsApp.ShipmentHandling.ShipmentState"),
                "bad enum literal {lit}"
            );
            Lit::Enum(lit[q + 1..lit.len() - 1].to_owned())
        } else if let Some(t) = parse_timestamp(&lit).filter(|_| lit.contains('T')) {
            Lit::Time(t)
        } else {
            Lit::Num(lit.parse().unwrap_or_else(|_| panic!("bad literal {lit}")))
        };
        Expr::Cmp(field, op, lit)
    }
}

impl Expr {
    fn eval(&self, r: &Entity) -> bool {
        match self {
            Expr::And(a, b) => a.eval(r) && b.eval(r),
            Expr::Or(a, b) => a.eval(r) || b.eval(r),
            Expr::Cmp(f, op, lit) => {
                let v = r.get(f);
                let o = match (v, lit) {
                    (Some(Value::String(s)), Lit::Str(x) | Lit::Enum(x)) => s.cmp(x),
                    (Some(Value::String(s)), Lit::Time(t)) => match parse_timestamp(s) {
                        Some(p) => p.cmp(t),
                        None => return false,
                    },
                    (Some(Value::Number(n)), Lit::Num(x)) => {
                        n.as_f64().unwrap().partial_cmp(x).unwrap()
                    }
                    (None | Some(Value::Null), _) => return false,
                    (v, l) => panic!("type mismatch {v:?} vs {l:?}"),
                };
                match op.as_str() {
                    "eq" => o == Ordering::Equal,
                    "gt" => o == Ordering::Greater,
                    "ge" => o != Ordering::Less,
                    "lt" => o == Ordering::Less,
                    "le" => o != Ordering::Greater,
                    other => panic!("op {other}"),
                }
            }
        }
    }
}
