//! `mlc:connect/erp` and `mlc:connect/carrier` as a flow imports them: routing.
//!
//! A flow never reaches a connector directly: each call lands here, and the host calls the
//! connector bound to the flow's tenant (the binding's `links`) in a fresh store of its own,
//! with the connector's own grants ([`ConnectorRouter`], implemented by the runtime). So every
//! cross-plugin call passes the host, where it is timed, limited and recorded, and a trapping
//! connector fails only that call: the flow gets an error value and carries on.
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

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::durability::{self, CallLog, CarrierCalls, Failure, Memo, WorkRef, to_json};
use crate::manifest::Binding;
use crate::runtime::bindings::flow_imports::{carrier, erp};
use crate::runtime::bindings::types::{
    Address, AddressValidation, CarrierShipment, Error, FreightCharge, FreightOutcome, Label, Rate,
    RateRequest, ReadyPage, Shipment, ShipmentRequest, SubscriptionResult, TrackingEvent,
    TrackingPoll,
};

/// The connector a routed call goes to: a plugin bound in a tenant, working for a work item.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// The tenant (the flow's own).
    pub tenant: &'a str,
    /// The connector's plugin id.
    pub plugin: &'a str,
    /// The work item the flow is running, if any: the connector's own exchanges carry it.
    pub work: Option<&'a WorkRef>,
}

/// The answer of a routed call.
pub type Routed<'a, T> = BoxFuture<'a, Result<T, Failure>>;

/// Calls connector exports on a flow's behalf, each in a fresh store with the connector's own
/// grants. Implemented by the runtime; one method per function of `erp` and `carrier`.
#[expect(
    missing_docs,
    reason = "each method is the WIT function of the same name"
)]
pub trait ConnectorRouter: Send + Sync + 'static {
    fn list_ready_shipments<'a>(
        &'a self,
        to: Route<'a>,
        cursor: Option<String>,
        page: Option<String>,
    ) -> Routed<'a, ReadyPage>;
    fn get_shipment<'a>(&'a self, to: Route<'a>, erp_id: &'a str) -> Routed<'a, Shipment>;
    fn record_carrier_shipment<'a>(
        &'a self,
        to: Route<'a>,
        erp_id: &'a str,
        shipment: &'a CarrierShipment,
    ) -> Routed<'a, ()>;
    fn record_freight_cost<'a>(
        &'a self,
        to: Route<'a>,
        charge: &'a FreightCharge,
    ) -> Routed<'a, FreightOutcome>;
    fn record_tracking<'a>(
        &'a self,
        to: Route<'a>,
        erp_id: &'a str,
        event: &'a TrackingEvent,
    ) -> Routed<'a, ()>;
    fn validate_address<'a>(
        &'a self,
        to: Route<'a>,
        address: &'a Address,
    ) -> Routed<'a, AddressValidation>;
    fn rate_shipment<'a>(
        &'a self,
        to: Route<'a>,
        request: &'a RateRequest,
    ) -> Routed<'a, Vec<Rate>>;
    fn create_shipment<'a>(
        &'a self,
        to: Route<'a>,
        request: &'a ShipmentRequest,
    ) -> Routed<'a, CarrierShipment>;
    fn find_shipments<'a>(
        &'a self,
        to: Route<'a>,
        reference: &'a str,
    ) -> Routed<'a, Vec<CarrierShipment>>;
    fn void_shipment<'a>(&'a self, to: Route<'a>, shipment_id: &'a str) -> Routed<'a, ()>;
    fn get_label<'a>(&'a self, to: Route<'a>, tracking_number: &'a str) -> Routed<'a, Label>;
    fn subscribe_tracking<'a>(
        &'a self,
        to: Route<'a>,
        tracking_numbers: &'a [String],
    ) -> Routed<'a, SubscriptionResult>;
    fn poll_tracking<'a>(
        &'a self,
        to: Route<'a>,
        bookmark: Option<String>,
    ) -> Routed<'a, TrackingPoll>;
    fn track<'a>(
        &'a self,
        to: Route<'a>,
        tracking_number: &'a str,
    ) -> Routed<'a, Vec<TrackingEvent>>;
    fn parse_tracking_webhook<'a>(
        &'a self,
        to: Route<'a>,
        body: &'a [u8],
    ) -> Routed<'a, Vec<TrackingEvent>>;
}

/// A flow's links: which connectors serve its imports in its tenant, how to reach them, and the
/// log its calls are recorded in. Empty in a connector's store (connectors cannot import
/// `erp` or `carrier`; the check at load refuses one that does).
pub struct LinksCtx(Option<Links>);

struct Links {
    binding: Arc<Binding>,
    router: Arc<dyn ConnectorRouter>,
    calls: CallLog,
}

impl LinksCtx {
    /// The links of a flow bound as `binding`, recording into `calls`.
    pub fn new(binding: Arc<Binding>, router: Arc<dyn ConnectorRouter>, calls: CallLog) -> Self {
        LinksCtx(Some(Links {
            binding,
            router,
            calls,
        }))
    }

    /// No links: every routed call is refused.
    pub fn none() -> Self {
        LinksCtx(None)
    }

    fn links(&mut self) -> Result<&mut Links, Error> {
        self.0
            .as_mut()
            .ok_or_else(|| Error::Denied("only a flow can call connectors".into()))
    }
}

impl Links {
    /// The connector linked to this flow for `interface` in its tenant.
    fn linked(&self, interface: &str) -> Result<String, Error> {
        self.binding.links.get(interface).cloned().ok_or_else(|| {
            Error::Denied(format!(
                "no {interface} connector is linked to flow `{}` in tenant `{}`",
                self.calls.caller(),
                self.calls.tenant()
            ))
        })
    }
}

/// The routed carrier as exactly-once creation sees it.
struct RoutedCarrier<'a> {
    router: &'a dyn ConnectorRouter,
    to: Route<'a>,
}

impl CarrierCalls for RoutedCarrier<'_> {
    async fn create_shipment(&self, request: &ShipmentRequest) -> Result<CarrierShipment, Failure> {
        self.router.create_shipment(self.to, request).await
    }

    async fn find_shipments(&self, reference: &str) -> Result<Vec<CarrierShipment>, Failure> {
        self.router.find_shipments(self.to, reference).await
    }

    async fn void_shipment(&self, shipment_id: &str) -> Result<(), Failure> {
        self.router.void_shipment(self.to, shipment_id).await
    }
}

/// Routes one call: resolve the linked connector, call it through the router (recorded by the
/// call log), answer the flow.
macro_rules! route {
    ($self:ident, $iface:literal, $op:literal, $memo:expr, $input:expr, |$r:ident, $to:ident| $call:expr) => {{
        let links = match $self.links() {
            Ok(links) => links,
            Err(e) => return Ok(Err(e)),
        };
        let callee = match links.linked($iface) {
            Ok(callee) => callee,
            Err(e) => return Ok(Err(e)),
        };
        let router = links.router.clone();
        let tenant = links.calls.tenant().to_owned();
        let work = links.calls.work().cloned();
        let $r: &dyn ConnectorRouter = &*router;
        let $to = Route {
            tenant: &tenant,
            plugin: &callee,
            work: work.as_ref(),
        };
        let input = $input;
        Ok(links.calls.call(&callee, $op, $memo, input, || $call).await)
    }};
}

impl erp::Host for LinksCtx {
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
            |r, to| r.list_ready_shipments(to, cursor, page)
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
            |r, to| r.get_shipment(to, &erp_id)
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
            |r, to| r.record_carrier_shipment(to, &erp_id, &shipment)
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
            |r, to| r.record_freight_cost(to, &charge)
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
            |r, to| r.record_tracking(to, &erp_id, &event)
        )
    }
}

impl carrier::Host for LinksCtx {
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
            |r, to| r.validate_address(to, &address)
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
            |r, to| r.rate_shipment(to, &request)
        )
    }

    #[tracing::instrument(name = "mlc.connect.carrier.create-shipment", skip(self, request))]
    async fn create_shipment(
        &mut self,
        request: ShipmentRequest,
    ) -> wasmtime::Result<Result<CarrierShipment, Error>> {
        let links = match self.links() {
            Ok(links) => links,
            Err(e) => return Ok(Err(e)),
        };
        let callee = match links.linked("carrier") {
            Ok(callee) => callee,
            Err(e) => return Ok(Err(e)),
        };
        let router = links.router.clone();
        let tenant = links.calls.tenant().to_owned();
        let work = links.calls.work().cloned();
        let carrier = RoutedCarrier {
            router: &*router,
            to: Route {
                tenant: &tenant,
                plugin: &callee,
                work: work.as_ref(),
            },
        };
        Ok(durability::create_exactly_once(&mut links.calls, &carrier, &callee, request).await)
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
            |r, to| r.find_shipments(to, &reference)
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
            |r, to| r.void_shipment(to, &shipment_id)
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
            |r, to| r.get_label(to, &tracking_number)
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
            |r, to| r.subscribe_tracking(to, &tracking_numbers)
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
            |r, to| r.poll_tracking(to, bookmark)
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
            |r, to| r.track(to, &tracking_number)
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
            |r, to| r.parse_tracking_webhook(to, &body)
        )
    }
}
