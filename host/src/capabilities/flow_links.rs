//! `mlc:connect/erp` and `mlc:connect/carrier` as a flow imports them.
//!
//! A flow never reaches a connector directly: each call lands here, and the host calls the
//! connector bound to the flow's tenant (the binding's `links`) in a fresh store of its own,
//! with the connector's own grants. So every cross-plugin call passes the host, where it is
//! timed, limited and recorded, and a trapping connector fails only that call: the flow gets
//! an error value and carries on.

use std::time::Instant;

use crate::db::Exchange;
use crate::runtime::InvokeError;
use crate::runtime::bindings::flow_imports::{carrier, erp};
use crate::runtime::bindings::types::{
    Address, AddressValidation, CarrierShipment, Error, FreightCharge, FreightOutcome, Label, Rate,
    RateRequest, ReadyPage, RetryInfo, Shipment, ShipmentRequest, SubscriptionResult,
    TrackingEvent, TrackingPoll,
};
use crate::runtime::state::HostState;

/// Maps a failed routed call to the error value the flow receives.
pub(crate) fn routed_error(e: InvokeError) -> Error {
    match e {
        InvokeError::Plugin { error, .. } => error,
        InvokeError::Timeout { plugin, ms } => Error::Unavailable(RetryInfo {
            message: format!("connector `{plugin}` timed out after {ms} ms"),
            retry_after_ms: None,
        }),
        InvokeError::NotLoaded { .. }
        | InvokeError::NotBound { .. }
        | InvokeError::WrongWorld { .. } => Error::Denied(e.to_string()),
        InvokeError::Trap { .. } | InvokeError::Instantiate { .. } => {
            Error::Internal(e.to_string())
        }
    }
}

impl HostState {
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

    fn record_call(
        &self,
        callee: &str,
        operation: &str,
        started: Instant,
        at_ms: i64,
        outcome: &Result<(), String>,
    ) {
        let exchange = Exchange {
            at_ms,
            tenant: self.inv.tenant.clone(),
            plugin: self.inv.plugin.clone(),
            kind: "call".into(),
            work_item: self.inv.work_item.clone(),
            operation: operation.to_owned(),
            target: callee.to_owned(),
            status: None,
            outcome: match outcome {
                Ok(()) => "ok".into(),
                Err(e) => format!("error: {e}"),
            },
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            request: String::new(),
            response: String::new(),
        };
        if let Err(e) = self.rt.services.store.record_exchange(&exchange) {
            tracing::error!("recording a routed call failed: {e}");
        }
    }
}

/// Routes one call: resolve the linked connector, call it, record the call, map errors.
macro_rules! route {
    ($self:ident, $iface:literal, $op:literal, $client:ident, |$c:ident| $call:expr) => {{
        let callee = match $self.linked($iface) {
            Ok(callee) => callee,
            Err(e) => return Ok(Err(e)),
        };
        let started = Instant::now();
        let at_ms = $self.rt.services.clock.now_ms();
        let $c = $self
            .rt
            .$client(&$self.inv.tenant, &callee, $self.inv.work_item.clone());
        let result = $call.await.map_err(routed_error);
        $self.record_call(
            &callee,
            $op,
            started,
            at_ms,
            &result.as_ref().map(|_| ()).map_err(|e| format!("{e:?}")),
        );
        Ok(result)
    }};
}

impl erp::Host for HostState {
    #[tracing::instrument(name = "mlc.connect.erp.list-ready-shipments", skip(self))]
    async fn list_ready_shipments(
        &mut self,
        cursor: Option<String>,
        page: Option<String>,
    ) -> wasmtime::Result<Result<ReadyPage, Error>> {
        route!(self, "erp", "erp.list-ready-shipments", erp_client, |c| c
            .list_ready_shipments(cursor, page))
    }

    #[tracing::instrument(name = "mlc.connect.erp.get-shipment", skip(self))]
    async fn get_shipment(&mut self, erp_id: String) -> wasmtime::Result<Result<Shipment, Error>> {
        route!(self, "erp", "erp.get-shipment", erp_client, |c| c
            .get_shipment(&erp_id))
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-carrier-shipment", skip(self, shipment))]
    async fn record_carrier_shipment(
        &mut self,
        erp_id: String,
        shipment: CarrierShipment,
    ) -> wasmtime::Result<Result<(), Error>> {
        route!(
            self,
            "erp",
            "erp.record-carrier-shipment",
            erp_client,
            |c| c.record_carrier_shipment(&erp_id, &shipment)
        )
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-freight-cost", skip(self, charge))]
    async fn record_freight_cost(
        &mut self,
        charge: FreightCharge,
    ) -> wasmtime::Result<Result<FreightOutcome, Error>> {
        route!(self, "erp", "erp.record-freight-cost", erp_client, |c| c
            .record_freight_cost(&charge))
    }

    #[tracing::instrument(name = "mlc.connect.erp.record-tracking", skip(self, event))]
    async fn record_tracking(
        &mut self,
        erp_id: String,
        event: TrackingEvent,
    ) -> wasmtime::Result<Result<(), Error>> {
        route!(self, "erp", "erp.record-tracking", erp_client, |c| c
            .record_tracking(&erp_id, &event))
    }
}

impl carrier::Host for HostState {
    #[tracing::instrument(name = "mlc.connect.carrier.validate-address", skip(self, address))]
    async fn validate_address(
        &mut self,
        address: Address,
    ) -> wasmtime::Result<Result<AddressValidation, Error>> {
        route!(
            self,
            "carrier",
            "carrier.validate-address",
            carrier_client,
            |c| c.validate_address(&address)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.rate-shipment", skip(self, request))]
    async fn rate_shipment(
        &mut self,
        request: RateRequest,
    ) -> wasmtime::Result<Result<Vec<Rate>, Error>> {
        route!(
            self,
            "carrier",
            "carrier.rate-shipment",
            carrier_client,
            |c| c.rate_shipment(&request)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.create-shipment", skip(self, request))]
    async fn create_shipment(
        &mut self,
        request: ShipmentRequest,
    ) -> wasmtime::Result<Result<CarrierShipment, Error>> {
        route!(
            self,
            "carrier",
            "carrier.create-shipment",
            carrier_client,
            |c| c.create_shipment(&request)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.find-shipments", skip(self))]
    async fn find_shipments(
        &mut self,
        reference: String,
    ) -> wasmtime::Result<Result<Vec<CarrierShipment>, Error>> {
        route!(
            self,
            "carrier",
            "carrier.find-shipments",
            carrier_client,
            |c| c.find_shipments(&reference)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.void-shipment", skip(self))]
    async fn void_shipment(&mut self, shipment_id: String) -> wasmtime::Result<Result<(), Error>> {
        route!(
            self,
            "carrier",
            "carrier.void-shipment",
            carrier_client,
            |c| c.void_shipment(&shipment_id)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.get-label", skip(self))]
    async fn get_label(
        &mut self,
        tracking_number: String,
    ) -> wasmtime::Result<Result<Label, Error>> {
        route!(self, "carrier", "carrier.get-label", carrier_client, |c| c
            .get_label(&tracking_number))
    }

    #[tracing::instrument(name = "mlc.connect.carrier.subscribe-tracking", skip(self, tracking_numbers), fields(count = tracking_numbers.len()))]
    async fn subscribe_tracking(
        &mut self,
        tracking_numbers: Vec<String>,
    ) -> wasmtime::Result<Result<SubscriptionResult, Error>> {
        route!(
            self,
            "carrier",
            "carrier.subscribe-tracking",
            carrier_client,
            |c| c.subscribe_tracking(&tracking_numbers)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.poll-tracking", skip(self))]
    async fn poll_tracking(
        &mut self,
        bookmark: Option<String>,
    ) -> wasmtime::Result<Result<TrackingPoll, Error>> {
        route!(
            self,
            "carrier",
            "carrier.poll-tracking",
            carrier_client,
            |c| c.poll_tracking(bookmark)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.track", skip(self))]
    async fn track(
        &mut self,
        tracking_number: String,
    ) -> wasmtime::Result<Result<Vec<TrackingEvent>, Error>> {
        route!(self, "carrier", "carrier.track", carrier_client, |c| c
            .track(&tracking_number))
    }

    #[tracing::instrument(name = "mlc.connect.carrier.parse-tracking-webhook", skip(self, body), fields(bytes = body.len()))]
    async fn parse_tracking_webhook(
        &mut self,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<TrackingEvent>, Error>> {
        route!(
            self,
            "carrier",
            "carrier.parse-tracking-webhook",
            carrier_client,
            |c| c.parse_tracking_webhook(&body)
        )
    }
}
