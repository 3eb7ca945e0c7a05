//! `mlc:connect/erp` and `mlc:connect/carrier` as a flow imports them: routing.
//!
//! A flow never reaches a connector directly: each call lands here, and the host calls the
//! connector bound to the flow's tenant (the binding's `links`) in a fresh store of its own,
//! with the connector's own grants. So every cross-plugin call passes the host, where it is
//! timed, limited and recorded, and a trapping connector fails only that call: the flow gets an
//! error value and carries on.
//!
//! What is recorded, and which calls a retry answers from the journal, is the durability core's
//! business ([`crate::durability`]); this module only says, per function, whether it is a read
//! ([`Memo::Live`]) or a write ([`Memo::ByInput`]):
//! - live: `list-ready-shipments`, `get-shipment`, `validate-address`, `rate-shipment`,
//!   `find-shipments`, `get-label`, `subscribe-tracking` (subscribing again is harmless and
//!   renews), `poll-tracking`, `track`, `parse-tracking-webhook`;
//! - by input: `record-carrier-shipment`, `record-freight-cost`, `record-tracking`,
//!   `void-shipment`;
//! - `create-shipment` is exactly-once ([`durability::create_exactly_once`]).

use crate::durability::{self, CallLog, Memo};
use crate::runtime::bindings::flow_imports::{carrier, erp};
use crate::runtime::bindings::types::{
    Address, AddressValidation, CarrierShipment, Error, FreightCharge, FreightOutcome, Label, Rate,
    RateRequest, ReadyPage, Shipment, ShipmentRequest, SubscriptionResult, TrackingEvent,
    TrackingPoll,
};
use crate::runtime::state::HostState;

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

impl HostState {
    /// The connector linked to this flow for `interface` in its tenant.
    fn linked(&self, interface: &str) -> Result<String, Error> {
        self.inv
            .binding
            .links
            .get(interface)
            .cloned()
            .ok_or_else(|| {
                Error::Denied(format!(
                    "no {interface} connector is linked to flow `{}` in tenant `{}`",
                    self.inv.plugin, self.inv.tenant
                ))
            })
    }

    /// The flow's call log; a connector's store has none, and a connector that imports `erp`
    /// or `carrier` is refused at load, so this only fails on a host bug.
    fn call_log(&mut self) -> Result<&mut CallLog, Error> {
        self.calls
            .as_mut()
            .ok_or_else(|| Error::Internal("routed call outside a flow".into()))
    }
}

/// Routes one call: resolve the linked connector, call it (journaled), map errors.
macro_rules! route {
    ($self:ident, $iface:literal, $op:literal, $memo:expr, $input:expr, $client:ident, |$c:ident| $call:expr) => {{
        let callee = match $self.linked($iface) {
            Ok(callee) => callee,
            Err(e) => return Ok(Err(e)),
        };
        let $c = $self
            .rt
            .$client(&$self.inv.tenant, &callee, $self.inv.work.clone());
        let input = $input;
        let log = match $self.call_log() {
            Ok(log) => log,
            Err(e) => return Ok(Err(e)),
        };
        Ok(log
            .call(
                &callee,
                $op,
                $memo,
                input,
                move || async move { $call.await },
            )
            .await)
    }};
}

impl erp::Host for HostState {
    #[tracing::instrument(name = "mlc.connect.erp.list-ready-shipments", skip(self))]
    async fn list_ready_shipments(
        &mut self,
        cursor: Option<String>,
        page: Option<String>,
    ) -> wasmtime::Result<Result<ReadyPage, Error>> {
        let input = serde_json::json!({ "cursor": cursor, "page": page });
        route!(
            self,
            "erp",
            "erp.list-ready-shipments",
            Memo::Live,
            input,
            erp_client,
            |c| c.list_ready_shipments(cursor, page)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.get-shipment", skip(self))]
    async fn get_shipment(&mut self, erp_id: String) -> wasmtime::Result<Result<Shipment, Error>> {
        let input = serde_json::json!({ "erp-id": erp_id });
        route!(
            self,
            "erp",
            "erp.get-shipment",
            Memo::Live,
            input,
            erp_client,
            |c| c.get_shipment(&erp_id)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-carrier-shipment", skip(self, shipment))]
    async fn record_carrier_shipment(
        &mut self,
        erp_id: String,
        shipment: CarrierShipment,
    ) -> wasmtime::Result<Result<(), Error>> {
        let input = serde_json::json!({ "erp-id": erp_id, "shipment": to_json(&shipment) });
        route!(
            self,
            "erp",
            "erp.record-carrier-shipment",
            Memo::ByInput,
            input,
            erp_client,
            |c| c.record_carrier_shipment(&erp_id, &shipment)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-freight-cost", skip(self, charge))]
    async fn record_freight_cost(
        &mut self,
        charge: FreightCharge,
    ) -> wasmtime::Result<Result<FreightOutcome, Error>> {
        let input = to_json(&charge);
        route!(
            self,
            "erp",
            "erp.record-freight-cost",
            Memo::ByInput,
            input,
            erp_client,
            |c| c.record_freight_cost(&charge)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-tracking", skip(self, event))]
    async fn record_tracking(
        &mut self,
        erp_id: String,
        event: TrackingEvent,
    ) -> wasmtime::Result<Result<(), Error>> {
        let input = serde_json::json!({ "erp-id": erp_id, "event": to_json(&event) });
        route!(
            self,
            "erp",
            "erp.record-tracking",
            Memo::ByInput,
            input,
            erp_client,
            |c| c.record_tracking(&erp_id, &event)
        )
    }
}

impl carrier::Host for HostState {
    #[tracing::instrument(name = "mlc.connect.carrier.validate-address", skip(self, address))]
    async fn validate_address(
        &mut self,
        address: Address,
    ) -> wasmtime::Result<Result<AddressValidation, Error>> {
        let input = to_json(&address);
        route!(
            self,
            "carrier",
            "carrier.validate-address",
            Memo::Live,
            input,
            carrier_client,
            |c| c.validate_address(&address)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.rate-shipment", skip(self, request))]
    async fn rate_shipment(
        &mut self,
        request: RateRequest,
    ) -> wasmtime::Result<Result<Vec<Rate>, Error>> {
        let input = to_json(&request);
        route!(
            self,
            "carrier",
            "carrier.rate-shipment",
            Memo::Live,
            input,
            carrier_client,
            |c| c.rate_shipment(&request)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.create-shipment", skip(self, request))]
    async fn create_shipment(
        &mut self,
        request: ShipmentRequest,
    ) -> wasmtime::Result<Result<CarrierShipment, Error>> {
        let callee = match self.linked("carrier") {
            Ok(callee) => callee,
            Err(e) => return Ok(Err(e)),
        };
        let client = self
            .rt
            .carrier_client(&self.inv.tenant, &callee, self.inv.work.clone());
        let log = match self.call_log() {
            Ok(log) => log,
            Err(e) => return Ok(Err(e)),
        };
        Ok(durability::create_exactly_once(log, &client, &callee, request).await)
    }

    #[tracing::instrument(name = "mlc.connect.carrier.find-shipments", skip(self))]
    async fn find_shipments(
        &mut self,
        reference: String,
    ) -> wasmtime::Result<Result<Vec<CarrierShipment>, Error>> {
        let input = serde_json::json!({ "reference": reference });
        route!(
            self,
            "carrier",
            "carrier.find-shipments",
            Memo::Live,
            input,
            carrier_client,
            |c| c.find_shipments(&reference)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.void-shipment", skip(self))]
    async fn void_shipment(&mut self, shipment_id: String) -> wasmtime::Result<Result<(), Error>> {
        let input = serde_json::json!({ "shipment-id": shipment_id });
        route!(
            self,
            "carrier",
            "carrier.void-shipment",
            Memo::ByInput,
            input,
            carrier_client,
            |c| c.void_shipment(&shipment_id)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.get-label", skip(self))]
    async fn get_label(
        &mut self,
        tracking_number: String,
    ) -> wasmtime::Result<Result<Label, Error>> {
        let input = serde_json::json!({ "tracking-number": tracking_number });
        route!(
            self,
            "carrier",
            "carrier.get-label",
            Memo::Live,
            input,
            carrier_client,
            |c| c.get_label(&tracking_number)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.subscribe-tracking", skip(self, tracking_numbers), fields(count = tracking_numbers.len()))]
    async fn subscribe_tracking(
        &mut self,
        tracking_numbers: Vec<String>,
    ) -> wasmtime::Result<Result<SubscriptionResult, Error>> {
        let input = to_json(&tracking_numbers);
        route!(
            self,
            "carrier",
            "carrier.subscribe-tracking",
            Memo::Live,
            input,
            carrier_client,
            |c| c.subscribe_tracking(&tracking_numbers)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.poll-tracking", skip(self))]
    async fn poll_tracking(
        &mut self,
        bookmark: Option<String>,
    ) -> wasmtime::Result<Result<TrackingPoll, Error>> {
        let input = serde_json::json!({ "bookmark": bookmark });
        route!(
            self,
            "carrier",
            "carrier.poll-tracking",
            Memo::Live,
            input,
            carrier_client,
            |c| c.poll_tracking(bookmark)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.track", skip(self))]
    async fn track(
        &mut self,
        tracking_number: String,
    ) -> wasmtime::Result<Result<Vec<TrackingEvent>, Error>> {
        let input = serde_json::json!({ "tracking-number": tracking_number });
        route!(
            self,
            "carrier",
            "carrier.track",
            Memo::Live,
            input,
            carrier_client,
            |c| c.track(&tracking_number)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.parse-tracking-webhook", skip(self, body), fields(bytes = body.len()))]
    async fn parse_tracking_webhook(
        &mut self,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<TrackingEvent>, Error>> {
        let input = serde_json::json!({ "bytes": body.len() });
        route!(
            self,
            "carrier",
            "carrier.parse-tracking-webhook",
            Memo::Live,
            input,
            carrier_client,
            |c| c.parse_tracking_webhook(&body)
        )
    }
}
