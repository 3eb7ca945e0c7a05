//! Shipping: Ship (labels, charges, references), label recovery and Void.

use super::*;

pub(super) const GIF_1X1: &str = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
pub(super) const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

pub(super) fn label_for(format: &str, tn: &str) -> String {
    match format {
        "GIF" => GIF_1X1.to_string(),
        "PNG" => PNG_1X1.to_string(),
        "ZPL" => B64.encode(format!(
            "^XA^FO40,40^A0N,40,40^FDUPS {tn}^FS^FO40,100^BCN,120,Y,N,N^FD{tn}^FS^XZ"
        )),
        "EPL" => B64.encode(format!("N\nA40,40,0,4,1,1,N,\"UPS {tn}\"\nP1\n")),
        _ => B64.encode(format!("SPL label {tn}")),
    }
}

pub(super) async fn ship(
    State(st): State<Arc<UpsState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(
        version.as_str(),
        "v2409"
            | "v2403"
            | "v2205"
            | "v2108"
            | "v1"
            | "v1601"
            | "v1607"
            | "v1701"
            | "v1707"
            | "v1801"
            | "v1807"
    ) {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let body = parse_body(&body)?;
    let req_opt = req_str(&body, &["ShipmentRequest", "Request", "RequestOption"])?;
    if !matches!(
        req_opt.to_ascii_lowercase().as_str(),
        "validate" | "nonvalidate"
    ) {
        return Err(bad(
            "120002",
            "Invalid RequestOption. Valid values are validate and nonvalidate.",
        ));
    }
    let ship = req_obj(&body, &["ShipmentRequest", "Shipment"])?;
    let shipper = parse_party(ship, &["Shipper"], true, true)
        .map_err(|e| prefix_err(e, "ShipmentRequest.Shipment."))?;
    let shipper_no = req_str(ship, &["Shipper", "ShipperNumber"])
        .map_err(|_| missing("ShipmentRequest.Shipment.Shipper.ShipperNumber"))?;
    if shipper_no != st.cfg.account_number {
        return Err(bad("120100", "Missing or invalid shipper number"));
    }
    let ship_to = parse_party(ship, &["ShipTo"], true, true)
        .map_err(|e| prefix_err(e, "ShipmentRequest.Shipment."))?;
    if ship.get("ShipFrom").is_some() {
        parse_party(ship, &["ShipFrom"], true, true)
            .map_err(|e| prefix_err(e, "ShipmentRequest.Shipment."))?;
    }
    let charges = many(at(ship, &["PaymentInformation", "ShipmentCharge"]));
    if charges.is_empty() {
        return Err(missing(
            "ShipmentRequest.Shipment.PaymentInformation.ShipmentCharge",
        ));
    }
    for c in &charges {
        let t = opt_str(c, &["Type"]).ok_or_else(|| {
            missing("ShipmentRequest.Shipment.PaymentInformation.ShipmentCharge.Type")
        })?;
        if !matches!(t.as_str(), "01" | "02" | "03") {
            return Err(bad("120412", "Invalid ShipmentCharge.Type"));
        }
        if let Some(acct) = opt_str(c, &["BillShipper", "AccountNumber"])
            && acct != st.cfg.account_number
        {
            return Err(bad("120124", "The bill shipper account number is invalid."));
        }
    }
    let service = req_str(ship, &["Service", "Code"])
        .map_err(|_| missing("ShipmentRequest.Shipment.Service.Code"))?;
    if model::service_name(&service).is_none() {
        return Err(bad("120500", "Invalid or missing Service.Code"));
    }
    if !model::lane_services(&shipper.country, &ship_to.country).contains(&service.as_str()) {
        return Err(bad(
            "111210",
            "The requested service is unavailable between the selected locations.",
        ));
    }
    let pkgs = parse_packages(ship, "ShipmentRequest.Shipment", "Packaging")?;
    let lf = req_str(
        &body,
        &[
            "ShipmentRequest",
            "LabelSpecification",
            "LabelImageFormat",
            "Code",
        ],
    )?;
    let lf = lf.to_ascii_uppercase();
    if !matches!(lf.as_str(), "GIF" | "PNG" | "ZPL" | "EPL" | "SPL") {
        return Err(bad(
            "120300",
            "Invalid LabelImageFormat.Code. Valid values are GIF, PNG, ZPL, EPL, SPL.",
        ));
    }
    if matches!(lf.as_str(), "ZPL" | "EPL" | "SPL") {
        req_str(
            &body,
            &[
                "ShipmentRequest",
                "LabelSpecification",
                "LabelStockSize",
                "Height",
            ],
        )?;
        req_str(
            &body,
            &[
                "ShipmentRequest",
                "LabelSpecification",
                "LabelStockSize",
                "Width",
            ],
        )?;
    }
    let residential = at(ship, &["ShipTo", "Address", "ResidentialAddressIndicator"]).is_some();
    let want_neg = at(ship, &["ShipmentRatingOptions", "NegotiatedRatesIndicator"]).is_some();
    let priced = price(
        &service,
        &shipper,
        &ship_to,
        &pkgs,
        residential,
        want_neg,
        st.cfg.negotiated,
    );
    let mut refs: Vec<String> = many(ship.get("ReferenceNumber"))
        .iter()
        .filter_map(|r| opt_str(r, &["Value"]))
        .collect();
    for p in &pkgs {
        refs.extend(p.references.iter().cloned());
    }
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| seen.insert(r.clone()));
    let ctx = opt_str(
        &body,
        &[
            "ShipmentRequest",
            "Request",
            "TransactionReference",
            "CustomerContext",
        ],
    );

    let now = st.clock.now();
    let mut d = st.data_now();
    let mut packages = Vec::new();
    for p in &pkgs {
        d.serial += 1;
        let serial = d.serial + (st.cfg.seed % 1000) as u32 * 1000;
        let tn = model::tracking_number(&st.cfg.account_number, &service, serial);
        packages.push(UpsPackage {
            tracking_number: tn.clone(),
            weight: p.weight.clone(),
            weight_unit: p.unit.clone(),
            dimensions: p.dims.clone(),
            references: p.references.clone(),
            label: label_for(&lf, &tn),
        });
        let _ = &p.packaging;
    }
    let id = packages
        .first()
        .map(|p| p.tracking_number.clone())
        .unwrap_or_default();
    let (events, scheduled) = model::schedule(
        st.cfg.seed,
        &id,
        &service,
        now,
        &shipper.place(),
        &ship_to.place(),
    );
    let idx = d.shipments.len();
    for p in &packages {
        d.by_tn.insert(p.tracking_number.clone(), idx);
    }
    d.by_id.insert(id.clone(), idx);
    d.shipments.push(Shipment {
        id: id.clone(),
        created_at: now,
        voided_at: None,
        service: service.clone(),
        shipper,
        ship_to,
        references: refs,
        customer_context: ctx.clone(),
        packages: packages.clone(),
        currency: priced.currency.clone(),
        total: priced.total,
        negotiated: priced.negotiated,
        billing_weight: priced.billing_weight.clone(),
        billing_unit: priced.billing_unit.clone(),
        label_format: lf.clone(),
        pending: VecDeque::from(events),
        events: Vec::new(),
        scheduled,
    });
    d.recompute_due();
    d.materialize(now, &st.cfg.client_id);
    drop(d);
    st.kick();

    let cur = priced.currency.clone();
    let mut results = Map::new();
    let mut sc = Map::new();
    sc.insert(
        "TransportationCharges".into(),
        charge(&cur, priced.transport),
    );
    sc.insert("ServiceOptionsCharges".into(), charge(&cur, priced.options));
    sc.insert("TotalCharges".into(), charge(&cur, priced.total));
    results.insert("ShipmentCharges".into(), Value::Object(sc));
    if let Some(n) = priced.negotiated {
        results.insert(
            "NegotiatedRateCharges".into(),
            json!({"TotalCharge": charge(&cur, n)}),
        );
    }
    let uom_desc = if priced.billing_unit == "KGS" {
        "Kilograms"
    } else {
        "Pounds"
    };
    results.insert(
        "BillingWeight".into(),
        json!({"UnitOfMeasurement": {"Code": priced.billing_unit, "Description": uom_desc}, "Weight": priced.billing_weight}),
    );
    results.insert("ShipmentIdentificationNumber".into(), json!(id));
    let pr: Vec<Value> = packages
        .iter()
        .map(|p| {
            let mut label = json!({
                "ImageFormat": {"Code": lf, "Description": lf},
                "GraphicImage": p.label,
            });
            if (lf == "GIF" || lf == "PNG")
                && let Some(m) = label.as_object_mut()
            {
                m.insert(
                    "HTMLImage".into(),
                    json!(B64.encode(format!(
                        "<html><body><img src=\"label{}.{}\"></body></html>",
                        p.tracking_number,
                        lf.to_lowercase()
                    ))),
                );
            }
            json!({
                "TrackingNumber": p.tracking_number,
                "ServiceOptionsCharges": charge(&cur, 0.0),
                "ShippingLabel": label,
            })
        })
        .collect();
    results.insert("PackageResults".into(), Value::Array(pr));
    let mut resp = response_header(ctx.as_deref());
    if let Some(m) = resp.as_object_mut() {
        m.insert(
            "Alert".into(),
            json!([{"Code": "120900", "Description": "User Id and Shipper Number combination is not qualified to receive negotiated rates"}]),
        );
        if priced.negotiated.is_some() || !want_neg {
            m.remove("Alert");
        }
    }
    Ok(ok_json(
        &st,
        json!({"ShipmentResponse": {"Response": resp, "ShipmentResults": Value::Object(results)}}),
    ))
}

pub(super) fn prefix_err(r: Response, _prefix: &str) -> Response {
    r
}

/// Label Recovery: the label of a package shipped earlier, by tracking number, in the format
/// asked for (`LabelSpecification.LabelImageFormat.Code`, default GIF).
pub(super) async fn label_recovery(
    State(st): State<Arc<UpsState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if version != "v1" {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let body = parse_body(&body)?;
    let tn = req_str(&body, &["LabelRecoveryRequest", "TrackingNumber"])?.to_uppercase();
    let format = opt_str(
        &body,
        &[
            "LabelRecoveryRequest",
            "LabelSpecification",
            "LabelImageFormat",
            "Code",
        ],
    )
    .unwrap_or_else(|| "GIF".into())
    .to_uppercase();
    if !matches!(format.as_str(), "GIF" | "PNG" | "ZPL" | "EPL" | "SPL") {
        return Err(bad("190204", "Invalid LabelImageFormat code."));
    }
    let d = st.data_now();
    let Some(shipment) = d.by_tn.get(&tn).and_then(|&i| d.shipments.get(i)) else {
        return Err(bad(
            "190202",
            "No shipment found for the tracking number provided.",
        ));
    };
    let id = shipment.id.clone();
    drop(d);
    Ok(ok_json(
        &st,
        json!({"LabelRecoveryResponse": {
            "Response": response_header(None),
            "ShipmentIdentificationNumber": id,
            "LabelResults": {
                "TrackingNumber": tn,
                "LabelImage": {
                    "LabelImageFormat": {"Code": format},
                    "GraphicImage": label_for(&format, &tn),
                },
            },
        }}),
    ))
}

pub(super) async fn void(
    State(st): State<Arc<UpsState>>,
    Path((version, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(version.as_str(), "v2409" | "v1" | "v3") {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let id = id.trim().to_uppercase();
    let mut wanted: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        if k == "trackingnumber" {
            let cleaned = v.trim_matches(|c| c == '[' || c == ']');
            wanted.extend(
                cleaned
                    .split(',')
                    .map(|s| s.trim().trim_matches('"').to_string())
                    .filter(|s| !s.is_empty()),
            );
        }
    }
    if wanted.len() > 20 {
        return Err(bad(
            "190103",
            "At most 20 tracking numbers may be voided at once.",
        ));
    }
    let now = st.clock.now();
    let mut d = st.data_now();
    let Some(&idx) = d.by_id.get(&id) else {
        return Err(bad(
            "190117",
            "No shipment found within the allowed void period",
        ));
    };
    let (tns, picked_up, already) = {
        let s = &d.shipments[idx];
        let tns: Vec<String> = s
            .packages
            .iter()
            .map(|p| p.tracking_number.clone())
            .collect();
        (
            tns,
            s.events.iter().any(|e| e.kind != "M"),
            s.voided_at.is_some(),
        )
    };
    if let Some(bad_tn) = wanted.iter().find(|t| !tns.contains(t)) {
        return Err(bad(
            "190102",
            &format!("Tracking number {bad_tn} does not belong to shipment {id}"),
        ));
    }
    if picked_up && !already {
        return Err(bad(
            "190101",
            "The shipment cannot be voided: UPS has already picked it up.",
        ));
    }
    d.void(idx, now, &st.cfg.client_id);
    drop(d);
    st.kick();
    let list = if wanted.is_empty() { tns } else { wanted };
    let plr: Vec<Value> = list
        .iter()
        .map(|t| json!({"TrackingNumber": t, "Status": {"Code": "1", "Description": "Voided"}}))
        .collect();
    Ok(ok_json(
        &st,
        json!({"VoidShipmentResponse": {
            "Response": response_header(None),
            "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
            "PackageLevelResults": plr,
        }}),
    ))
}
