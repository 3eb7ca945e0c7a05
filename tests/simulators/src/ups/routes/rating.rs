//! Rating: Rate and Shop, published and negotiated charges.

use super::*;

pub(super) struct Priced {
    pub(super) currency: String,
    pub(super) transport: f64,
    pub(super) options: f64,
    pub(super) total: f64,
    pub(super) negotiated: Option<f64>,
    pub(super) billing_weight: String,
    pub(super) billing_unit: String,
    pub(super) per_package: Vec<(f64, String)>,
}

pub(super) fn price(
    service: &str,
    shipper: &UpsParty,
    ship_to: &UpsParty,
    pkgs: &[Pkg],
    residential: bool,
    want_negotiated: bool,
    negotiated_account: bool,
) -> Priced {
    let billable: Vec<f64> = pkgs
        .iter()
        .map(|p| p.lbs.max(p.dim_lbs).ceil().max(1.0))
        .collect();
    let total_lbs: f64 = billable.iter().sum();
    let metric = pkgs.first().is_some_and(|p| p.unit == "KGS");
    let fmt_w = |lbs: f64| {
        if metric {
            format!("{:.1}", (lbs / 2.204_62 * 2.0).ceil() / 2.0)
        } else {
            format!("{lbs:.1}")
        }
    };
    let per_package: Vec<(f64, String)> = billable
        .iter()
        .map(|b| {
            (
                model::transport_charge(service, &shipper.postal, &ship_to.postal, *b),
                fmt_w(*b),
            )
        })
        .collect();
    let transport: f64 = per_package.iter().map(|(c, _)| c).sum();
    let options = if residential { 5.55 } else { 0.0 };
    let total = ((transport + options) * 100.0).round() / 100.0;
    Priced {
        currency: model::currency_for(&shipper.country).to_string(),
        transport,
        options,
        total,
        negotiated: (want_negotiated && negotiated_account).then(|| model::negotiated(total)),
        billing_weight: fmt_w(total_lbs),
        billing_unit: if metric { "KGS".into() } else { "LBS".into() },
        per_package,
    }
}

pub(super) fn charge(cur: &str, v: f64) -> Value {
    json!({"CurrencyCode": cur, "MonetaryValue": money(v)})
}

pub(super) fn rated_shipment(service: &str, p: &Priced) -> Value {
    let mut m = Map::new();
    m.insert(
        "Service".into(),
        json!({"Code": service, "Description": model::service_name(service).unwrap_or("")}),
    );
    m.insert(
        "RatedShipmentAlert".into(),
        json!([{"Code": "110971", "Description": "Your invoice may vary from the displayed reference rates"}]),
    );
    let uom_desc = if p.billing_unit == "KGS" {
        "Kilograms"
    } else {
        "Pounds"
    };
    m.insert(
        "BillingWeight".into(),
        json!({"UnitOfMeasurement": {"Code": p.billing_unit, "Description": uom_desc}, "Weight": p.billing_weight}),
    );
    m.insert(
        "TransportationCharges".into(),
        charge(&p.currency, p.transport),
    );
    m.insert(
        "ServiceOptionsCharges".into(),
        charge(&p.currency, p.options),
    );
    m.insert("TotalCharges".into(), charge(&p.currency, p.total));
    if let Some(n) = p.negotiated {
        m.insert(
            "NegotiatedRateCharges".into(),
            json!({"TotalCharge": charge(&p.currency, n)}),
        );
    }
    let pk: Vec<Value> = p
        .per_package
        .iter()
        .map(|(c, w)| {
            json!({
                "TransportationCharges": charge(&p.currency, *c),
                "ServiceOptionsCharges": charge(&p.currency, 0.0),
                "TotalCharges": charge(&p.currency, *c),
                "Weight": w,
                "BillingWeight": {"UnitOfMeasurement": {"Code": p.billing_unit, "Description": uom_desc}, "Weight": w},
            })
        })
        .collect();
    m.insert("RatedPackage".into(), Value::Array(pk));
    Value::Object(m)
}

pub(super) async fn rate(
    State(st): State<Arc<UpsState>>,
    Path((version, option)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    check_bearer(&st, &headers)?;
    if !matches!(
        version.as_str(),
        "v2409" | "v2403" | "v2205" | "v2108" | "v1" | "v1601" | "v1607" | "v1701" | "v1707"
    ) {
        return Err(err(
            StatusCode::NOT_FOUND,
            "404",
            "Unsupported API version.",
        ));
    }
    let shop = match option.to_ascii_lowercase().as_str() {
        "rate" | "ratetimeintransit" => false,
        "shop" | "shoptimeintransit" => true,
        _ => {
            return Err(bad(
                "111500",
                "Invalid request option. Valid values are Rate, Shop, Ratetimeintransit, Shoptimeintransit.",
            ));
        }
    };
    let body = parse_body(&body)?;
    req_obj(&body, &["RateRequest", "Request"])?;
    req_str(&body, &["RateRequest", "Request", "RequestOption"])?;
    let ship = req_obj(&body, &["RateRequest", "Shipment"])?;
    let shipper = parse_party(ship, &["Shipper"], false, false)
        .map_err(|_| missing("RateRequest.Shipment.Shipper.Address"))?;
    let ship_to = parse_party(ship, &["ShipTo"], false, false)
        .map_err(|_| missing("RateRequest.Shipment.ShipTo.Address"))?;
    if ship.get("ShipFrom").is_some() {
        parse_party(ship, &["ShipFrom"], false, false)
            .map_err(|_| missing("RateRequest.Shipment.ShipFrom.Address"))?;
    }
    if let Some(pd) = ship.get("PaymentDetails") {
        let charges = many(pd.get("ShipmentCharge"));
        if charges.is_empty() || charges.iter().any(|c| opt_str(c, &["Type"]).is_none()) {
            return Err(missing(
                "RateRequest.Shipment.PaymentDetails.ShipmentCharge.Type",
            ));
        }
    }
    let pkgs = parse_packages(ship, "RateRequest.Shipment", "PackagingType")?;
    let residential = at(ship, &["ShipTo", "Address", "ResidentialAddressIndicator"]).is_some();
    let want_neg = at(ship, &["ShipmentRatingOptions", "NegotiatedRatesIndicator"]).is_some();
    let lane = model::lane_services(&shipper.country, &ship_to.country);
    let services: Vec<String> = if shop {
        lane.iter().map(|s| s.to_string()).collect()
    } else {
        let code = req_str(ship, &["Service", "Code"])
            .map_err(|_| missing("RateRequest.Shipment.Service.Code"))?;
        if !lane.contains(&code.as_str()) {
            return Err(bad(
                "111210",
                "The requested service is unavailable between the selected locations.",
            ));
        }
        vec![code]
    };
    let rated: Vec<Value> = services
        .iter()
        .map(|s| {
            rated_shipment(
                s,
                &price(
                    s,
                    &shipper,
                    &ship_to,
                    &pkgs,
                    residential,
                    want_neg,
                    st.cfg.negotiated,
                ),
            )
        })
        .collect();
    let ctx = opt_str(
        &body,
        &[
            "RateRequest",
            "Request",
            "TransactionReference",
            "CustomerContext",
        ],
    );
    Ok(ok_json(
        &st,
        json!({"RateResponse": {"Response": response_header(ctx.as_deref()), "RatedShipment": rated}}),
    ))
}
