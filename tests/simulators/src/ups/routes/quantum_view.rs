//! Quantum View: subscription events with bookmarks, for polling.

use super::*;

pub(super) const QV_PAGE: usize = 50;
pub(super) const QV_SUBSCRIBER: &str = "MLCONNECTSIM";

pub(super) fn qv_err(code: &str, msg: &str) -> Response {
    bad(code, msg)
}

pub(super) fn parse_qv_time(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S")
        .ok()
        .map(|n| n.and_utc())
}

pub(super) fn qv_refs(s: &Shipment) -> Vec<Value> {
    s.references
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, r)| json!({"Number": (i + 1).to_string(), "Value": r}))
        .collect()
}

pub(super) fn qv_record(
    d: &UpsData,
    account: &str,
    idx: usize,
    e: &model::TrackEvent,
    out: &mut Map<String, Value>,
) {
    let Some(s) = d.shipments.get(idx) else {
        return;
    };
    let local = e.local();
    let date = local.format("%Y%m%d").to_string();
    let time = local.format("%H%M%S").to_string();
    let mut loc = Map::new();
    loc.insert("PoliticalDivision2".into(), json!(e.place.city));
    if (2..=5).contains(&e.place.state.len()) {
        loc.insert("PoliticalDivision1".into(), json!(e.place.state));
    }
    let push = |out: &mut Map<String, Value>, key: &str, v: Value| {
        if let Some(Value::Array(a)) = out.get_mut(key) {
            a.push(v);
        } else {
            out.insert(key.to_string(), Value::Array(vec![v]));
        }
    };
    match e.kind {
        "M" => {
            let packages: Vec<Value> = s
                .packages
                .iter()
                .map(|p| {
                    json!({
                        "TrackingNumber": p.tracking_number,
                        "PackageWeight": {"Weight": format!("{:06.1}", p.weight.parse::<f64>().unwrap_or(0.0))},
                        "ReferenceNumber": p.references.iter().map(|r| json!({"Value": r})).collect::<Vec<_>>(),
                        "Activity": [{"Date": date, "Time": time}],
                    })
                })
                .collect();
            push(
                out,
                "Manifest",
                json!({
                    "Shipper": {"Name": s.shipper.name, "ShipperNumber": account, "Address": {
                        "AddressLine1": s.shipper.lines.first().cloned().unwrap_or_default(),
                        "City": s.shipper.city, "PostalCode": s.shipper.postal.replace(' ', ""), "CountryCode": s.shipper.country}},
                    "ShipTo": {"CompanyName": s.ship_to.name.chars().take(35).collect::<String>(), "Address": {
                        "AddressLine1": s.ship_to.lines.first().cloned().unwrap_or_default(),
                        "City": s.ship_to.city, "PostalCode": s.ship_to.postal.replace(' ', ""), "CountryCode": s.ship_to.country}},
                    "ReferenceNumber": qv_refs(s),
                    "ConsigneeBillIndicator": "",
                    "CollectBillIndicator": "",
                    "Service": {"Code": format!("0{}", s.service)},
                    "PickupDate": date,
                    "ScheduledDeliveryDate": s.scheduled.format("%Y%m%d").to_string(),
                    "Package": packages,
                }),
            );
        }
        _ => {
            for p in &s.packages {
                let base = json!({
                    "PackageReferenceNumber": p.references.iter().map(|r| json!({"Value": r})).collect::<Vec<_>>(),
                    "ShipmentReferenceNumber": qv_refs(s),
                    "ShipperNumber": account,
                    "TrackingNumber": p.tracking_number,
                    "Date": date,
                    "Time": time,
                    "ActivityLocation": {"AddressArtifactFormat": Value::Object(loc.clone())},
                });
                let mut rec = match base {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                match (e.kind, e.code) {
                    ("I", "OR") => push(out, "Origin", Value::Object(rec)),
                    ("X", _) => {
                        rec.insert("StatusCode".into(), json!("X1"));
                        rec.insert("StatusDescription".into(), json!(e.detail));
                        rec.insert("ReasonCode".into(), json!("NA"));
                        rec.insert("ReasonDescription".into(), json!("RECEIVER NOT AVAILABLE"));
                        let next = (e.at + Duration::days(1)).format("%Y%m%d").to_string();
                        rec.insert("RescheduledDeliveryDate".into(), json!(next));
                        push(out, "Exception", Value::Object(rec));
                    }
                    ("D", _) => {
                        let mut afa = Map::new();
                        afa.insert(
                            "ConsigneeName".into(),
                            json!(s.ship_to.name.chars().take(35).collect::<String>()),
                        );
                        afa.insert(
                            "StreetName".into(),
                            json!(
                                s.ship_to
                                    .lines
                                    .first()
                                    .cloned()
                                    .unwrap_or_default()
                                    .chars()
                                    .take(50)
                                    .collect::<String>()
                            ),
                        );
                        afa.insert("PoliticalDivision2".into(), json!(s.ship_to.city));
                        if (1..=5).contains(&s.ship_to.state.len()) {
                            afa.insert("PoliticalDivision1".into(), json!(s.ship_to.state));
                        }
                        afa.insert("CountryCode".into(), json!(s.ship_to.country));
                        if !s.ship_to.postal.is_empty() {
                            afa.insert(
                                "PostcodePrimaryLow".into(),
                                json!(s.ship_to.postal.chars().take(15).collect::<String>()),
                            );
                        }
                        rec.insert(
                            "DeliveryLocation".into(),
                            json!({"AddressArtifactFormat": Value::Object(afa), "Code": "M1", "Description": "Front Desk", "SignedForByName": "RECEIVING"}),
                        );
                        push(out, "Delivery", Value::Object(rec));
                    }
                    _ => {
                        let activity = match e.code {
                            "OT" => "OT",
                            "MV" => "VM",
                            _ => "DS",
                        };
                        push(
                            out,
                            "Generic",
                            json!({
                                "ActivityType": activity,
                                "TrackingNumber": p.tracking_number,
                                "ShipperNumber": account,
                                "ShipmentReferenceNumber": qv_refs(s),
                                "Activity": {"Date": date, "Time": time},
                            }),
                        );
                    }
                }
            }
        }
    }
}

pub(super) async fn quantum_view(
    State(st): State<Arc<UpsState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(version.as_str(), "v3" | "v2" | "v1") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let body = parse_body(&body)?;
    let qv = req_obj(&body, &["QuantumViewRequest"])?;
    let action = req_str(qv, &["Request", "RequestAction"])
        .map_err(|_| missing("QuantumViewRequest.Request.RequestAction"))?;
    if action != "QVEvents" {
        return Err(qv_err(
            "330001",
            "Invalid RequestAction. The only valid value is QVEvents.",
        ));
    }
    let ctx = opt_str(qv, &["Request", "TransactionReference", "CustomerContext"]);
    let sub = many(qv.get("SubscriptionRequest")).into_iter().next();
    let name = sub
        .and_then(|s| opt_str(s, &["Name"]))
        .unwrap_or_else(|| "OutboundXML".into());
    let now = st.clock.now();
    let mut range: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    if let Some(r) = sub.and_then(|s| s.get("DateTimeRange")) {
        let begin = opt_str(r, &["BeginDateTime"])
            .and_then(|b| parse_qv_time(&b))
            .ok_or_else(|| qv_err("330025", "Invalid BeginDateTime (YYYYMMDDHHmmss)"))?;
        let end = match opt_str(r, &["EndDateTime"]) {
            Some(e) => parse_qv_time(&e)
                .ok_or_else(|| qv_err("330026", "Invalid EndDateTime (YYYYMMDDHHmmss)"))?,
            None => begin + Duration::days(7),
        };
        if begin < now - Duration::days(7) || end < begin || end - begin > Duration::days(7) {
            return Err(qv_err(
                "330027",
                "The date range is invalid: it may not exceed 7 days nor start more than 7 days in the past.",
            ));
        }
        range = Some((begin, end));
    }
    // Bookmark: base64 of "<subscriber>|<name>|<mode><offset>", mode u = unread, a = all.
    let mode = if range.is_some() { 'a' } else { 'u' };
    let mut d = st.data_now();
    let mut start = if mode == 'u' { d.qv_cursor } else { 0 };
    if let Some(bm) = opt_str(qv, &["Bookmark"]) {
        let decoded = B64
            .decode(bm.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let parsed = decoded.as_deref().and_then(|t| {
            let mut it = t.split('|');
            let (subr, _n, pos) = (it.next()?, it.next()?, it.next()?);
            if subr != QV_SUBSCRIBER || !pos.starts_with(mode) {
                return None;
            }
            pos[1..].parse::<usize>().ok()
        });
        start = parsed.ok_or_else(|| qv_err("330030", "Invalid Bookmark"))?;
    }
    let selected: Vec<usize> = (0..d.qv_log.len())
        .filter(|&i| match range {
            Some((b, e)) => d.qv_log[i].1.at >= b && d.qv_log[i].1.at <= e,
            None => true,
        })
        .collect();
    let page: Vec<usize> = if mode == 'u' {
        (start.min(d.qv_log.len())..d.qv_log.len())
            .take(QV_PAGE)
            .collect()
    } else {
        selected.iter().skip(start).take(QV_PAGE).copied().collect()
    };
    let consumed_to = start + page.len();
    let more = if mode == 'u' {
        consumed_to < d.qv_log.len()
    } else {
        consumed_to < selected.len()
    };
    if mode == 'u' {
        d.qv_cursor = d.qv_cursor.max(consumed_to);
    }
    let mut file = Map::new();
    for &i in &page {
        let (idx, e) = d.qv_log[i].clone();
        qv_record(&d, &st.cfg.account_number, idx, &e, &mut file);
    }
    drop(d);
    let fmt_range = |t: DateTime<Utc>| t.format("%m-%d-%Y-%H-%M").to_string();
    let (b, e) = range.unwrap_or((now - Duration::days(7), now));
    let mut ev = json!({
        "Name": name,
        "Number": "1",
        "SubscriptionStatus": {"Code": "A", "Description": "Active"},
        "DateRange": {"BeginDate": fmt_range(b), "EndDate": fmt_range(e)},
    });
    if !page.is_empty()
        && let Some(m) = ev.as_object_mut()
    {
        let mut f = Map::new();
        f.insert(
            "FileName".into(),
            json!(format!(
                "{}{:03}",
                now.format("%y%m%d_%H%M%S"),
                start % 1000
            )),
        );
        f.insert("StatusType".into(), json!({"Code": if mode == 'u' { "U" } else { "R" }, "Description": if mode == 'u' { "Unread" } else { "Read" }}));
        f.extend(file);
        m.insert("SubscriptionFile".into(), json!([Value::Object(f)]));
    }
    let mut resp = json!({
        "QuantumViewResponse": {
            "Response": {
                "TransactionReference": {"CustomerContext": ctx.unwrap_or_default(), "XpciVersion": "1.0007", "ToolVersion": "1.0"},
                "ResponseStatusCode": "1",
                "ResponseStatusDescription": "Success",
            },
            "QuantumViewEvents": {"SubscriberID": QV_SUBSCRIBER, "SubscriptionEvents": [ev]},
        }
    });
    if more
        && let Some(m) = resp
            .get_mut("QuantumViewResponse")
            .and_then(Value::as_object_mut)
    {
        m.insert(
            "Bookmark".into(),
            json!(B64.encode(format!("{QV_SUBSCRIBER}|{name}|{mode}{consumed_to}"))),
        );
    }
    Ok(ok_json(&st, resp))
}
