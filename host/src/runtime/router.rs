//! The runtime's side of a flow's `erp` and `carrier` imports: [`ConnectorRouter`] over the
//! connector clients, each call a fresh store of the connector with its own grants.

use std::sync::Arc;

use super::RuntimeInner;
use super::invoke::InvokeError;
use crate::capabilities::flow_links::{ConnectorRouter, Route, Routed};
use crate::durability::Failure;
use crate::runtime::bindings::types::{
    Address, AddressValidation, CarrierShipment, Error, FreightCharge, FreightOutcome, Label, Rate,
    RateRequest, ReadyPage, RetryInfo, Shipment, ShipmentRequest, SubscriptionResult,
    TrackingEvent, TrackingPoll,
};

/// Routes a flow's calls to the connectors of this runtime.
pub(crate) struct Router(pub(crate) Arc<RuntimeInner>);

impl From<InvokeError> for Failure {
    fn from(e: InvokeError) -> Self {
        let in_doubt = outcome_unknown(&e);
        Failure {
            error: routed_error(e),
            in_doubt,
        }
    }
}

/// The error value a flow receives for a failed routed call.
fn routed_error(e: InvokeError) -> Error {
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

/// Whether the connector may have acted although the call failed: it said it does not know
/// (`unavailable`, `internal`), or it never answered (timeout, trap).
fn outcome_unknown(e: &InvokeError) -> bool {
    match e {
        InvokeError::Plugin { error, .. } => {
            matches!(error, Error::Unavailable(_) | Error::Internal(_))
        }
        InvokeError::Timeout { .. }
        | InvokeError::Trap { .. }
        | InvokeError::Instantiate { .. } => true,
        InvokeError::NotLoaded { .. }
        | InvokeError::NotBound { .. }
        | InvokeError::WrongWorld { .. } => false,
    }
}

/// One routed call: a client for the route's connector, the call, the failure mapped.
macro_rules! routed {
    ($self:ident, $to:ident, $client:ident, |$c:ident| $call:expr) => {{
        let $c = $self.0.$client($to.tenant, $to.plugin, $to.work.cloned());
        Box::pin(async move { $call.await.map_err(Failure::from) })
    }};
}

impl ConnectorRouter for Router {
    fn list_ready_shipments<'a>(
        &'a self,
        to: Route<'a>,
        cursor: Option<String>,
        page: Option<String>,
    ) -> Routed<'a, ReadyPage> {
        routed!(self, to, erp_client, |c| c
            .list_ready_shipments(cursor, page))
    }

    fn get_shipment<'a>(&'a self, to: Route<'a>, erp_id: &'a str) -> Routed<'a, Shipment> {
        routed!(self, to, erp_client, |c| c.get_shipment(erp_id))
    }

    fn record_carrier_shipment<'a>(
        &'a self,
        to: Route<'a>,
        erp_id: &'a str,
        shipment: &'a CarrierShipment,
    ) -> Routed<'a, ()> {
        routed!(self, to, erp_client, |c| c
            .record_carrier_shipment(erp_id, shipment))
    }

    fn record_freight_cost<'a>(
        &'a self,
        to: Route<'a>,
        charge: &'a FreightCharge,
    ) -> Routed<'a, FreightOutcome> {
        routed!(self, to, erp_client, |c| c.record_freight_cost(charge))
    }

    fn record_tracking<'a>(
        &'a self,
        to: Route<'a>,
        erp_id: &'a str,
        event: &'a TrackingEvent,
    ) -> Routed<'a, ()> {
        routed!(self, to, erp_client, |c| c.record_tracking(erp_id, event))
    }

    fn validate_address<'a>(
        &'a self,
        to: Route<'a>,
        address: &'a Address,
    ) -> Routed<'a, AddressValidation> {
        routed!(self, to, carrier_client, |c| c.validate_address(address))
    }

    fn rate_shipment<'a>(
        &'a self,
        to: Route<'a>,
        request: &'a RateRequest,
    ) -> Routed<'a, Vec<Rate>> {
        routed!(self, to, carrier_client, |c| c.rate_shipment(request))
    }

    fn create_shipment<'a>(
        &'a self,
        to: Route<'a>,
        request: &'a ShipmentRequest,
    ) -> Routed<'a, CarrierShipment> {
        routed!(self, to, carrier_client, |c| c.create_shipment(request))
    }

    fn find_shipments<'a>(
        &'a self,
        to: Route<'a>,
        reference: &'a str,
    ) -> Routed<'a, Vec<CarrierShipment>> {
        routed!(self, to, carrier_client, |c| c.find_shipments(reference))
    }

    fn void_shipment<'a>(&'a self, to: Route<'a>, shipment_id: &'a str) -> Routed<'a, ()> {
        routed!(self, to, carrier_client, |c| c.void_shipment(shipment_id))
    }

    fn get_label<'a>(&'a self, to: Route<'a>, tracking_number: &'a str) -> Routed<'a, Label> {
        routed!(self, to, carrier_client, |c| c.get_label(tracking_number))
    }

    fn subscribe_tracking<'a>(
        &'a self,
        to: Route<'a>,
        tracking_numbers: &'a [String],
    ) -> Routed<'a, SubscriptionResult> {
        routed!(self, to, carrier_client, |c| c
            .subscribe_tracking(tracking_numbers))
    }

    fn poll_tracking<'a>(
        &'a self,
        to: Route<'a>,
        bookmark: Option<String>,
    ) -> Routed<'a, TrackingPoll> {
        routed!(self, to, carrier_client, |c| c.poll_tracking(bookmark))
    }

    fn track<'a>(
        &'a self,
        to: Route<'a>,
        tracking_number: &'a str,
    ) -> Routed<'a, Vec<TrackingEvent>> {
        routed!(self, to, carrier_client, |c| c.track(tracking_number))
    }

    fn parse_tracking_webhook<'a>(
        &'a self,
        to: Route<'a>,
        body: &'a [u8],
    ) -> Routed<'a, Vec<TrackingEvent>> {
        routed!(self, to, carrier_client, |c| c.parse_tracking_webhook(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::TrapKind;

    #[test]
    fn failures_the_connector_may_have_acted_on_are_in_doubt() {
        let plugin = || "ups".to_owned();
        let unavailable = Error::Unavailable(RetryInfo {
            message: "503".into(),
            retry_after_ms: None,
        });
        let cases = [
            (
                InvokeError::Plugin {
                    plugin: plugin(),
                    error: unavailable.clone(),
                },
                true,
            ),
            (
                InvokeError::Plugin {
                    plugin: plugin(),
                    error: Error::Internal("reset".into()),
                },
                true,
            ),
            (
                InvokeError::Timeout {
                    plugin: plugin(),
                    ms: 1,
                },
                true,
            ),
            (
                InvokeError::Trap {
                    plugin: plugin(),
                    kind: TrapKind::Guest,
                    message: "unreachable".into(),
                },
                true,
            ),
            (
                InvokeError::Instantiate {
                    plugin: plugin(),
                    message: "oom".into(),
                },
                true,
            ),
            (
                InvokeError::Plugin {
                    plugin: plugin(),
                    error: Error::Denied("no".into()),
                },
                false,
            ),
            (InvokeError::NotLoaded { plugin: plugin() }, false),
        ];
        for (e, in_doubt) in cases {
            let shown = e.to_string();
            let failure = Failure::from(e);
            assert_eq!(failure.in_doubt, in_doubt, "{shown}");
        }
        let timeout = Failure::from(InvokeError::Timeout {
            plugin: plugin(),
            ms: 30,
        });
        assert!(
            matches!(&timeout.error, Error::Unavailable(r) if r.message.contains("timed out after 30 ms"))
        );
        let passed = Failure::from(InvokeError::Plugin {
            plugin: plugin(),
            error: unavailable.clone(),
        });
        assert_eq!(
            passed.error, unavailable,
            "a connector's own error passes as it is"
        );
    }
}
