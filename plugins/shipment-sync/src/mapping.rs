//! Pure decisions of the outbound path: service mapping, hold reasons, rate choice, the
//! carrier request, the freight charge and the summary.

use mlc_plugin_sdk::exports::flow::Hold;
use mlc_plugin_sdk::{
    Address, AddressVerdict, CarrierShipment, Error, FreightCharge, FreightOutcome, LabelFormat,
    Money, Rate, Shipment, ShipmentRequest,
};

/// Hold step names.
pub const STEP_VALIDATE: &str = "validate-address";
/// Hold step of an unmapped ship-via.
pub const STEP_MAP_SERVICE: &str = "map-service";

/// The idempotency key of a shipment's creation: stable across retries, replays and ticks.
pub fn idempotency_key(erp_id: &str) -> String {
    format!("ship:{erp_id}")
}

/// One line for an address, for messages.
pub fn one_line(a: &Address) -> String {
    let mut parts: Vec<&str> = a
        .lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.trim().is_empty())
        .collect();
    parts.push(&a.city);
    let state_zip = match &a.state {
        Some(s) if !s.is_empty() => format!("{s} {}", a.postal_code),
        _ => a.postal_code.clone(),
    };
    let mut out = parts.join(", ");
    for extra in [state_zip.trim(), a.country.as_str()] {
        if !extra.is_empty() {
            out.push_str(", ");
            out.push_str(extra);
        }
    }
    out
}

/// What address validation means for the item: the address to ship to, or a hold.
pub fn address_decision(shipment: &Shipment, verdict: AddressVerdict) -> Result<Address, Hold> {
    let id = &shipment.erp_id;
    let input = one_line(&shipment.ship_to);
    match verdict {
        AddressVerdict::Valid(address) => Ok(address),
        AddressVerdict::Ambiguous(candidates) if !candidates.is_empty() => Err(Hold {
            step: STEP_VALIDATE.into(),
            reason: format!(
                "The carrier found {} possible addresses for shipment {id} ({input}) and none is certain: \
                 correct the receiver address in the ERP (see the candidates) and replay.",
                candidates.len()
            ),
            candidates,
        }),
        AddressVerdict::Ambiguous(_) | AddressVerdict::NoCandidates => Err(Hold {
            step: STEP_VALIDATE.into(),
            reason: format!(
                "The carrier knows no address like the receiver address of shipment {id} ({input}): \
                 correct it in the ERP and replay."
            ),
            candidates: Vec::new(),
        }),
    }
}

/// The hold for a ship-via code that has no carrier service.
pub fn unmapped_hold(shipment: &Shipment) -> Hold {
    Hold {
        step: STEP_MAP_SERVICE.into(),
        reason: format!(
            "Ship via `{}` of shipment {} has no carrier service in the flow's `service-map` setting: \
             add it to the map or change the shipment's ship via, then replay.",
            shipment.ship_via.trim(),
            shipment.erp_id
        ),
        candidates: Vec::new(),
    }
}

/// The rate for `service` among the carrier's answer (the first one when none matches).
pub fn pick_rate(rates: Vec<Rate>, service: &str) -> Result<Rate, Error> {
    let mut first = None;
    for rate in rates {
        if rate.service == service {
            return Ok(rate);
        }
        first.get_or_insert(rate);
    }
    first.ok_or_else(|| {
        Error::internal(format!(
            "the carrier returned no rate for service {service}"
        ))
    })
}

/// The carrier request for a shipment.
pub fn shipment_request(
    shipment: &Shipment,
    ship_to: Address,
    service: &str,
    label_format: Option<LabelFormat>,
) -> ShipmentRequest {
    ShipmentRequest {
        idempotency_key: idempotency_key(&shipment.erp_id),
        reference: shipment.erp_id.clone(),
        order_ref: shipment.order_ref.clone(),
        service: service.to_owned(),
        ship_to,
        parcels: shipment.parcels.clone(),
        label_format,
        site: Some(shipment.site.clone()),
    }
}

/// Whether a decimal amount is zero (or empty: unknown).
pub fn is_zero(amount: &str) -> bool {
    let digits = amount.trim().trim_start_matches(['-', '+']);
    digits.chars().all(|c| c == '0' || c == '.')
}

/// The amount to book: the carrier shipment's charges, or the rate when the shipment carries
/// none (a shipment found only through reconciliation reports `0.00`). The flag says whether
/// the rate was used.
pub fn freight_amount(created: &CarrierShipment, rate: &Rate) -> (Money, bool) {
    if is_zero(&created.charges.amount) {
        (rate.total.clone(), true)
    } else {
        (created.charges.clone(), false)
    }
}

/// The freight charge for a created shipment.
pub fn freight_charge(
    shipment: &Shipment,
    created: &CarrierShipment,
    amount: Money,
) -> FreightCharge {
    FreightCharge {
        erp_id: shipment.erp_id.clone(),
        order_ref: shipment.order_ref.clone(),
        amount,
        reference: created.shipment_id.clone(),
        cost_center: shipment.cost_center.clone(),
        code_parts: shipment.code_parts.clone(),
    }
}

/// The text of a completed item.
pub fn summary(
    shipment: &Shipment,
    created: &CarrierShipment,
    freight: Option<(&Money, FreightOutcome)>,
) -> String {
    let mut out = format!(
        "shipment {} → carrier shipment {} (service {}), tracking {}",
        shipment.erp_id,
        created.shipment_id,
        created.service,
        created.tracking_numbers.join(", ")
    );
    match freight {
        Some((money, FreightOutcome::Posted)) => {
            out.push_str(&format!(
                "; freight {} {} posted",
                money.amount, money.currency
            ));
        }
        Some((money, FreightOutcome::AlreadyPosted)) => {
            out.push_str(&format!(
                "; freight {} {} was already posted",
                money.amount, money.currency
            ));
        }
        None => out.push_str("; freight not posted (post-freight = false)"),
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mlc_plugin_sdk::{CodePart, Parcel, Weight, WeightUnit};

    pub(crate) fn address() -> Address {
        Address {
            name: "Northwind Retail".into(),
            attention: Some("Receiving".into()),
            lines: vec!["26601 W Agoura Rd".into()],
            city: "Calabasas".into(),
            state: Some("CA".into()),
            postal_code: "91302".into(),
            country: "US".into(),
            phone: Some("8185550100".into()),
            email: None,
        }
    }

    pub(crate) fn shipment(id: &str) -> Shipment {
        Shipment {
            erp_id: id.into(),
            order_ref: format!("CO-{id}"),
            company: "ACME-US".into(),
            site: "AC1".into(),
            ship_via: "UPSGND".into(),
            ship_to: address(),
            parcels: vec![Parcel {
                id: "HU-1".into(),
                weight: Weight {
                    value: 4.2,
                    unit: WeightUnit::Kilograms,
                },
                dimensions: None,
                description: Some("Apparel".into()),
            }],
            cost_center: Some("CC-400".into()),
            code_parts: vec![CodePart {
                name: "CodeC".into(),
                value: "PRJ-7".into(),
            }],
            modified_at: 1_772_000_000_000,
            version: "W/\"1\"".into(),
        }
    }

    pub(crate) fn rate(service: &str, amount: &str) -> Rate {
        Rate {
            service: service.into(),
            service_name: "UPS Ground".into(),
            total: Money {
                amount: amount.into(),
                currency: "USD".into(),
            },
            published_total: Money {
                amount: "30.10".into(),
                currency: "USD".into(),
            },
            negotiated: true,
            transit_days: Some(3),
        }
    }

    pub(crate) fn created(amount: &str) -> CarrierShipment {
        CarrierShipment {
            shipment_id: "1ZSHIP0001".into(),
            tracking_numbers: vec!["1Z999AA10123456784".into()],
            service: "03".into(),
            charges: Money {
                amount: amount.into(),
                currency: "USD".into(),
            },
            negotiated: true,
            reference: "1042".into(),
            voided: false,
            created_at: Some(1_772_000_100_000),
        }
    }

    #[test]
    fn valid_address_is_used_as_standardized() {
        let mut std = address();
        std.postal_code = "91302-1234".into();
        let got = address_decision(&shipment("1042"), AddressVerdict::Valid(std)).unwrap();
        assert_eq!(got.postal_code, "91302-1234");
    }

    #[test]
    fn ambiguous_address_holds_with_candidates() {
        let mut a = address();
        a.lines = vec!["26601 AGOURA RD".into()];
        let mut b = address();
        b.lines = vec!["26601 W AGOURA RD STE 100".into()];
        let hold =
            address_decision(&shipment("1042"), AddressVerdict::Ambiguous(vec![a, b])).unwrap_err();
        assert_eq!(hold.step, "validate-address");
        assert_eq!(hold.candidates.len(), 2);
        assert!(
            hold.reason
                .contains("2 possible addresses for shipment 1042"),
            "{}",
            hold.reason
        );
        assert!(
            hold.reason
                .contains("26601 W Agoura Rd, Calabasas, CA 91302, US"),
            "{}",
            hold.reason
        );
    }

    #[test]
    fn unknown_address_holds_without_candidates() {
        for verdict in [
            AddressVerdict::NoCandidates,
            AddressVerdict::Ambiguous(vec![]),
        ] {
            let hold = address_decision(&shipment("7"), verdict).unwrap_err();
            assert_eq!(hold.step, "validate-address");
            assert!(hold.candidates.is_empty());
            assert!(hold.reason.contains("knows no address"), "{}", hold.reason);
        }
    }

    #[test]
    fn unmapped_ship_via_hold_names_the_code() {
        let mut s = shipment("1042");
        s.ship_via = "FDXG ".into();
        let hold = unmapped_hold(&s);
        assert_eq!(hold.step, "map-service");
        assert!(hold.reason.contains("`FDXG`"));
        assert!(hold.reason.contains("service-map"));
    }

    #[test]
    fn picks_the_rate_of_the_service() {
        let got = pick_rate(vec![rate("01", "80.00"), rate("03", "23.45")], "03").unwrap();
        assert_eq!(got.total.amount, "23.45");
        let first = pick_rate(vec![rate("02", "40.00")], "03").unwrap();
        assert_eq!(first.service, "02");
        assert!(matches!(pick_rate(vec![], "03"), Err(Error::Internal(_))));
    }

    #[test]
    fn request_is_stable_for_the_same_data() {
        let s = shipment("1042");
        let r1 = shipment_request(&s, address(), "03", Some(LabelFormat::Zpl));
        let r2 = shipment_request(&s, address(), "03", Some(LabelFormat::Zpl));
        assert_eq!(r1.idempotency_key, "ship:1042");
        assert_eq!(r1.idempotency_key, r2.idempotency_key);
        assert_eq!(r1.reference, "1042");
        assert_eq!(r1.order_ref, "CO-1042");
        assert_eq!(r1.parcels.len(), 1);
    }

    #[test]
    fn zero_amounts() {
        for z in ["0", "0.00", "-0.0", "", " 0.0 "] {
            assert!(is_zero(z), "{z}");
        }
        for nz in ["0.01", "23.45", "-1.00", "abc"] {
            assert!(!is_zero(nz), "{nz}");
        }
    }

    #[test]
    fn freight_falls_back_to_the_rate_when_charges_are_zero() {
        let r = rate("03", "23.45");
        let (m, fallback) = freight_amount(&created("31.20"), &r);
        assert_eq!((m.amount.as_str(), fallback), ("31.20", false));
        let (m, fallback) = freight_amount(&created("0.00"), &r);
        assert_eq!((m.amount.as_str(), fallback), ("23.45", true));
        let charge = freight_charge(&shipment("1042"), &created("31.20"), m);
        assert_eq!(charge.reference, "1ZSHIP0001");
        assert_eq!(charge.order_ref, "CO-1042");
        assert_eq!(charge.cost_center.as_deref(), Some("CC-400"));
        assert_eq!(charge.code_parts.len(), 1);
    }

    #[test]
    fn summary_lists_tracking_and_freight() {
        let s = shipment("1042");
        let c = created("31.20");
        let text = summary(&s, &c, Some((&c.charges, FreightOutcome::Posted)));
        assert_eq!(
            text,
            "shipment 1042 → carrier shipment 1ZSHIP0001 (service 03), tracking 1Z999AA10123456784; freight 31.20 USD posted"
        );
    }
}
