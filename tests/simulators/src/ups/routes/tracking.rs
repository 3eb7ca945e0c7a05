//! Tracking: by tracking number, by reference, by shipment.

use super::*;

pub(super) fn status_json(e: &model::TrackEvent) -> Value {
    json!({
        "type": e.kind,
        "code": e.code,
        "description": e.detail,
        "simplifiedTextDescription": e.desc,
        "statusCode": e.status_code,
    })
}

pub(super) fn package_json(s: &Shipment, p: &UpsPackage) -> Value {
    let activity: Vec<Value> = s
        .events
        .iter()
        .rev()
        .map(|e| {
            let local = e.local();
            let off = e.offset_hours();
            json!({
                "location": {"address": {
                    "city": e.place.city,
                    "stateProvince": e.place.state,
                    "countryCode": e.place.country,
                    "country": e.place.country,
                    "postalCode": if e.kind == "D" { e.place.postal.clone() } else { String::new() },
                }, "slic": "4321"},
                "status": status_json(e),
                "date": local.format("%Y%m%d").to_string(),
                "time": local.format("%H%M%S").to_string(),
                "gmtDate": e.at.format("%Y%m%d").to_string(),
                "gmtOffset": format!("{}{:02}:00", if off < 0 { '-' } else { '+' }, off.abs()),
                "gmtTime": e.at.format("%H%M%S").to_string(),
                "logicalScan": e.kind == "M" || e.kind == "MV",
            })
        })
        .collect();
    let delivered = s.events.iter().find(|e| e.kind == "D");
    let mut m = Map::new();
    m.insert("trackingNumber".into(), json!(p.tracking_number));
    let mut dd = vec![json!({"type": "SDD", "date": s.scheduled.format("%Y%m%d").to_string()})];
    if let Some(e) = delivered {
        dd.push(json!({"type": "DEL", "date": e.local().format("%Y%m%d").to_string()}));
        m.insert(
            "deliveryTime".into(),
            json!({"type": "DEL", "endTime": e.local().format("%H%M%S").to_string()}),
        );
        m.insert(
            "deliveryInformation".into(),
            json!({"receivedBy": "RECEIVING", "location": "Front Desk"}),
        );
    } else {
        m.insert(
            "deliveryTime".into(),
            json!({"type": "EOD", "endTime": "235900"}),
        );
    }
    m.insert("deliveryDate".into(), Value::Array(dd));
    m.insert("activity".into(), Value::Array(activity));
    if let Some(e) = s.events.last() {
        m.insert("currentStatus".into(), status_json(e));
    }
    m.insert(
        "packageAddress".into(),
        json!([
            {"type": "ORIGIN", "name": s.shipper.name, "address": {"city": s.shipper.city, "stateProvince": s.shipper.state, "countryCode": s.shipper.country, "country": s.shipper.country}},
            {"type": "DESTINATION", "name": s.ship_to.name, "address": {"city": s.ship_to.city, "stateProvince": s.ship_to.state, "countryCode": s.ship_to.country, "country": s.ship_to.country}},
        ]),
    );
    m.insert(
        "weight".into(),
        json!({"unitOfMeasurement": p.weight_unit, "weight": p.weight}),
    );
    if let Some([l, w, h, u]) = &p.dimensions {
        m.insert(
            "dimension".into(),
            json!({"length": l, "width": w, "height": h, "unitOfDimension": u}),
        );
    }
    m.insert(
        "service".into(),
        json!({"code": format!("0{}", s.service), "levelCode": format!("0{}", s.service), "description": model::service_name(&s.service).unwrap_or("")}),
    );
    let refs: Vec<Value> = s
        .references
        .iter()
        .map(|r| json!({"type": if p.references.contains(r) { "PACKAGE" } else { "SHIPMENT" }, "number": r}))
        .collect();
    m.insert("referenceNumber".into(), Value::Array(refs));
    m.insert("packageCount".into(), json!(s.packages.len()));
    Value::Object(m)
}

pub(super) fn not_found_track() -> Response {
    err(
        StatusCode::NOT_FOUND,
        "TW0001",
        "Tracking Information Not Found",
    )
}

pub(super) async fn track(
    State(st): State<Arc<UpsState>>,
    Path(n): Path<String>,
    headers: HeaderMap,
) -> Res {
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let n = n.trim().to_uppercase();
    if !(7..=34).contains(&n.len()) {
        return Err(bad("TV1002", "Invalid inquiry number"));
    }
    let d = st.data_now();
    let Some(&idx) = d.by_tn.get(&n) else {
        return Err(not_found_track());
    };
    let s = &d.shipments[idx];
    let Some(p) = s.packages.iter().find(|p| p.tracking_number == n) else {
        return Err(not_found_track());
    };
    let body = json!({"trackResponse": {"shipment": [{"inquiryNumber": n, "package": [package_json(s, p)]}]}});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

pub(super) async fn track_shipment(
    State(st): State<Arc<UpsState>>,
    Path(n): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let (mut offset, mut count) = (0usize, 50usize);
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "offset" => offset = v.parse().map_err(|_| bad("TV1003", "Invalid offset"))?,
            "count" => count = v.parse().map_err(|_| bad("TV1004", "Invalid count"))?,
            _ => {}
        }
    }
    let n = n.trim().to_uppercase();
    let d = st.data_now();
    let Some(&idx) = d.by_tn.get(&n) else {
        return Err(not_found_track());
    };
    let s = &d.shipments[idx];
    let pk: Vec<Value> = s
        .packages
        .iter()
        .skip(offset)
        .take(count)
        .map(|p| package_json(s, p))
        .collect();
    let body = json!({"trackResponse": {"shipment": [{"inquiryNumber": n, "package": pk}]}});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

pub(super) fn parse_ymd(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y%m%d").ok()
}

pub(super) async fn track_reference(
    State(st): State<Arc<UpsState>>,
    Path(r): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    check_bearer(&st, &headers)?;
    require_trans_headers(&headers)?;
    let now = st.clock.now();
    let mut from = (now - Duration::days(14)).date_naive();
    let mut to = now.date_naive();
    let (mut dest_country, mut dest_zip, mut shipper_num) = (None, None, None);
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "fromPickUpDate" => {
                from = parse_ymd(&v)
                    .ok_or_else(|| bad("TV1005", "Invalid fromPickUpDate (YYYYMMDD)"))?
            }
            "toPickUpDate" => {
                to =
                    parse_ymd(&v).ok_or_else(|| bad("TV1006", "Invalid toPickUpDate (YYYYMMDD)"))?
            }
            "destCountry" if !v.is_empty() => dest_country = Some(v.into_owned()),
            "destZip" if !v.is_empty() => dest_zip = Some(v.into_owned()),
            "shipperNum" if !v.is_empty() => shipper_num = Some(v.into_owned()),
            "refNumType" if !matches!(v.as_ref(), "SmallPackage" | "fgv" | "") => {
                return Err(bad(
                    "TV1007",
                    "Invalid refNumType. Valid values are SmallPackage and fgv.",
                ));
            }
            _ => {}
        }
    }
    if shipper_num
        .as_deref()
        .is_some_and(|s| s != st.cfg.account_number)
    {
        return Err(not_found_track());
    }
    let r = r.trim().to_string();
    let d = st.data_now();
    let mut pk = Vec::new();
    for s in &d.shipments {
        let day = s.created_at.date_naive();
        if day < from || day > to || !s.references.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
            continue;
        }
        if dest_country
            .as_deref()
            .is_some_and(|c| c != s.ship_to.country)
            || dest_zip.as_deref().is_some_and(|z| z != s.ship_to.postal)
        {
            continue;
        }
        pk.extend(s.packages.iter().map(|p| package_json(s, p)));
    }
    if pk.is_empty() {
        return Err(not_found_track());
    }
    let body = json!({"trackResponse": {"shipment": [{"inquiryNumber": r, "package": pk}]}});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}
