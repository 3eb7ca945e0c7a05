//! Calling plugin exports: one fresh store per call, limits enforced, and the two layers of
//! failure kept apart — the plugin's own error value ([`InvokeError::Plugin`]) versus the
//! plugin failing to run at all (trap, timeout, CPU or memory limit).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tracing::Instrument;
use wasmtime::Store;

use super::bindings::types::{
    AddressValidation, CarrierShipment, Error as WitError, FreightCharge, FreightOutcome, Label,
    Rate, RateRequest, ReadyPage, Shipment, ShipmentRequest, SubscriptionResult, TrackingEvent,
    TrackingPoll,
};
use super::bindings::{CarrierConnector, ErpConnector, SyncFlow, flow};
use super::state::{CpuDeadlineExceeded, HostState, Invocation, MemoryCapExceeded};
use super::{LoadedKind, LoadedPlugin, RuntimeInner, store};
use crate::durability::WorkRef;
use crate::manifest::WorldKind;

/// What kind of trap ended an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrapKind {
    /// The CPU deadline (epoch budget) ran out.
    CpuDeadline,
    /// The memory cap refused a growth.
    MemoryLimit,
    /// The guest trapped on its own (panic, unreachable, out-of-bounds).
    Guest,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::CpuDeadline => "CPU deadline exceeded",
            TrapKind::MemoryLimit => "memory limit exceeded",
            TrapKind::Guest => "guest trap",
        })
    }
}

/// Why a call to a plugin export did not return a value.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No plugin with this id is loaded.
    #[error("plugin `{plugin}` is not loaded")]
    NotLoaded {
        /// The plugin id.
        plugin: String,
    },
    /// The plugin is not bound to the tenant.
    #[error("plugin `{plugin}` is not bound to tenant `{tenant}`")]
    NotBound {
        /// The tenant.
        tenant: String,
        /// The plugin id.
        plugin: String,
    },
    /// The plugin implements another world.
    #[error("plugin `{plugin}` implements {actual}, not {expected}")]
    WrongWorld {
        /// The plugin id.
        plugin: String,
        /// What the caller needed.
        expected: WorldKind,
        /// What it is.
        actual: WorldKind,
    },
    /// The plugin ran and returned its own error value.
    #[error("plugin `{plugin}` returned an error: {error:?}")]
    Plugin {
        /// The plugin id.
        plugin: String,
        /// The WIT error.
        error: WitError,
    },
    /// The plugin trapped; its instance is discarded.
    #[error("plugin `{plugin}` trapped ({kind}): {message}")]
    Trap {
        /// The plugin id.
        plugin: String,
        /// What kind of trap.
        kind: TrapKind,
        /// wasmtime's account, with the guest backtrace when available.
        message: String,
    },
    /// The invocation ran past its wall-clock limit.
    #[error("plugin `{plugin}` timed out after {ms} ms")]
    Timeout {
        /// The plugin id.
        plugin: String,
        /// The limit.
        ms: u64,
    },
    /// The plugin could not be instantiated.
    #[error("plugin `{plugin}` could not be instantiated: {message}")]
    Instantiate {
        /// The plugin id.
        plugin: String,
        /// Why.
        message: String,
    },
}

impl InvokeError {
    /// Whether retrying later may succeed (retryable WIT errors and timeouts).
    pub fn is_retryable(&self) -> bool {
        match self {
            InvokeError::Plugin { error, .. } => {
                matches!(
                    error,
                    WitError::RateLimited(_) | WitError::Unavailable(_) | WitError::Conflict(_)
                )
            }
            InvokeError::Timeout { .. } => true,
            _ => false,
        }
    }

    /// The plugin's error value, if it returned one.
    pub fn plugin_error(&self) -> Option<&WitError> {
        match self {
            InvokeError::Plugin { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// How the world-specific part of a call failed before producing a WIT result.
pub(crate) enum CallFailure {
    WrongWorld(WorldKind),
    Instantiate(wasmtime::Error),
    Trap(wasmtime::Error),
}

type CallFuture<'a, R> = BoxFuture<'a, Result<Result<R, WitError>, CallFailure>>;

impl RuntimeInner {
    /// Runs `call` in a fresh store for `plugin_id` in `tenant`, under the plugin's limits.
    pub(crate) async fn run<R: Send>(
        self: &Arc<Self>,
        tenant: &str,
        plugin_id: &str,
        work: Option<WorkRef>,
        export: &'static str,
        call: impl for<'a> FnOnce(&'a LoadedPlugin, &'a mut Store<HostState>) -> CallFuture<'a, R>
        + Send,
    ) -> Result<R, InvokeError> {
        let started = std::time::Instant::now();
        // Routing failures never reach a plugin version, but are counted all the same.
        let unrouted = |e: InvokeError| {
            self.metrics
                .observe_invocation(plugin_id, None, export, started.elapsed(), Some(&e));
            e
        };
        let plugin = self
            .plugin(plugin_id)
            .ok_or_else(|| InvokeError::NotLoaded {
                plugin: plugin_id.to_owned(),
            })
            .map_err(unrouted)?;
        let binding = self
            .binding(tenant, plugin_id)
            .ok_or_else(|| InvokeError::NotBound {
                tenant: tenant.to_owned(),
                plugin: plugin_id.to_owned(),
            })
            .map_err(unrouted)?;
        let inv = Invocation {
            tenant: tenant.to_owned(),
            plugin: plugin_id.to_owned(),
            binding,
            work,
        };
        let mut store = store::new_store(self, &plugin, inv);
        let wall_ms = plugin.manifest.limits.wall_ms;
        let span =
            tracing::info_span!("plugin.invoke", plugin = %plugin_id, tenant = %tenant, export);
        let outcome =
            tokio::time::timeout(Duration::from_millis(wall_ms), call(&plugin, &mut store))
                .instrument(span)
                .await;
        let plugin_name = || plugin_id.to_owned();
        let result = match outcome {
            Err(_) => Err(InvokeError::Timeout {
                plugin: plugin_name(),
                ms: wall_ms,
            }),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(error))) => Err(InvokeError::Plugin {
                plugin: plugin_name(),
                error,
            }),
            Ok(Err(CallFailure::WrongWorld(expected))) => Err(InvokeError::WrongWorld {
                plugin: plugin_name(),
                expected,
                actual: plugin.manifest.world,
            }),
            Ok(Err(CallFailure::Instantiate(e))) => match classify(&store, &e) {
                TrapKind::Guest => Err(InvokeError::Instantiate {
                    plugin: plugin_name(),
                    message: format!("{e:#}"),
                }),
                kind => Err(InvokeError::Trap {
                    plugin: plugin_name(),
                    kind,
                    message: format!("{e:#}"),
                }),
            },
            Ok(Err(CallFailure::Trap(e))) => {
                let kind = classify(&store, &e);
                tracing::warn!(plugin = %plugin_id, tenant = %tenant, export, %kind, "plugin trapped: {e:#}");
                Err(InvokeError::Trap {
                    plugin: plugin_name(),
                    kind,
                    message: format!("{e:#}"),
                })
            }
        };
        self.after_call(&plugin, export, started.elapsed(), result.as_ref().err());
        result
    }

    /// A client for the ERP connector `plugin` in `tenant`.
    pub(crate) fn erp_client(
        self: &Arc<Self>,
        tenant: &str,
        plugin: &str,
        work: Option<WorkRef>,
    ) -> ErpClient {
        ErpClient {
            rt: self.clone(),
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
            work,
        }
    }

    /// A client for the carrier connector `plugin` in `tenant`.
    pub(crate) fn carrier_client(
        self: &Arc<Self>,
        tenant: &str,
        plugin: &str,
        work: Option<WorkRef>,
    ) -> CarrierClient {
        CarrierClient {
            rt: self.clone(),
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
            work,
        }
    }
}

fn classify(store: &Store<HostState>, e: &wasmtime::Error) -> TrapKind {
    if store.data().cpu.exceeded || e.downcast_ref::<CpuDeadlineExceeded>().is_some() {
        TrapKind::CpuDeadline
    } else if store.data().limiter.exceeded.is_some()
        || e.downcast_ref::<MemoryCapExceeded>().is_some()
    {
        TrapKind::MemoryLimit
    } else {
        TrapKind::Guest
    }
}

macro_rules! world_call {
    ($self:ident, $kind:ident, $world:expr, $export:expr, |$inst:ident, $store:ident| $body:expr) => {{
        $self
            .rt
            .run(
                &$self.tenant,
                &$self.plugin,
                $self.work.clone(),
                $export,
                move |plugin, $store| {
                    Box::pin(async move {
                        let LoadedKind::$kind(pre) = &plugin.kind else {
                            return Err(CallFailure::WrongWorld($world));
                        };
                        let $inst = pre
                            .instantiate_async(&mut *$store)
                            .await
                            .map_err(CallFailure::Instantiate)?;
                        $body.await.map_err(CallFailure::Trap)
                    })
                },
            )
            .await
    }};
}

/// Calls the `erp` export of one ERP connector in one tenant.
#[derive(Clone)]
pub struct ErpClient {
    rt: Arc<RuntimeInner>,
    tenant: String,
    plugin: String,
    work: Option<WorkRef>,
}

impl ErpClient {
    fn erp(inst: &ErpConnector) -> &super::bindings::erp_exports::Guest {
        inst.mlc_connect_erp()
    }

    /// `erp.list-ready-shipments`.
    pub async fn list_ready_shipments(
        &self,
        cursor: Option<String>,
        page: Option<String>,
    ) -> Result<ReadyPage, InvokeError> {
        world_call!(
            self,
            Erp,
            WorldKind::Erp,
            "erp.list-ready-shipments",
            |i, store| Self::erp(&i).call_list_ready_shipments(
                &mut *store,
                cursor.as_deref(),
                page.as_deref()
            )
        )
    }

    /// `erp.get-shipment`.
    pub async fn get_shipment(&self, erp_id: &str) -> Result<Shipment, InvokeError> {
        let erp_id = erp_id.to_owned();
        world_call!(self, Erp, WorldKind::Erp, "erp.get-shipment", |i, store| {
            Self::erp(&i).call_get_shipment(&mut *store, &erp_id)
        })
    }

    /// `erp.record-carrier-shipment`.
    pub async fn record_carrier_shipment(
        &self,
        erp_id: &str,
        shipment: &CarrierShipment,
    ) -> Result<(), InvokeError> {
        let (erp_id, shipment) = (erp_id.to_owned(), shipment.clone());
        world_call!(
            self,
            Erp,
            WorldKind::Erp,
            "erp.record-carrier-shipment",
            |i, store| Self::erp(&i).call_record_carrier_shipment(&mut *store, &erp_id, &shipment)
        )
    }

    /// `erp.record-freight-cost`.
    pub async fn record_freight_cost(
        &self,
        charge: &FreightCharge,
    ) -> Result<FreightOutcome, InvokeError> {
        let charge = charge.clone();
        world_call!(
            self,
            Erp,
            WorldKind::Erp,
            "erp.record-freight-cost",
            |i, store| Self::erp(&i).call_record_freight_cost(&mut *store, &charge)
        )
    }

    /// `erp.record-tracking`.
    pub async fn record_tracking(
        &self,
        erp_id: &str,
        event: &TrackingEvent,
    ) -> Result<(), InvokeError> {
        let (erp_id, event) = (erp_id.to_owned(), event.clone());
        world_call!(
            self,
            Erp,
            WorldKind::Erp,
            "erp.record-tracking",
            |i, store| Self::erp(&i).call_record_tracking(&mut *store, &erp_id, &event)
        )
    }
}

/// Calls the `carrier` export of one carrier connector in one tenant.
#[derive(Clone)]
pub struct CarrierClient {
    rt: Arc<RuntimeInner>,
    tenant: String,
    plugin: String,
    work: Option<WorkRef>,
}

impl CarrierClient {
    fn carrier(inst: &CarrierConnector) -> &super::bindings::carrier_exports::Guest {
        inst.mlc_connect_carrier()
    }

    /// `carrier.validate-address`.
    pub async fn validate_address(
        &self,
        address: &super::bindings::types::Address,
    ) -> Result<AddressValidation, InvokeError> {
        let address = address.clone();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.validate-address",
            |i, store| Self::carrier(&i).call_validate_address(&mut *store, &address)
        )
    }

    /// `carrier.rate-shipment`.
    pub async fn rate_shipment(&self, request: &RateRequest) -> Result<Vec<Rate>, InvokeError> {
        let request = request.clone();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.rate-shipment",
            |i, store| Self::carrier(&i).call_rate_shipment(&mut *store, &request)
        )
    }

    /// `carrier.create-shipment`.
    pub async fn create_shipment(
        &self,
        request: &ShipmentRequest,
    ) -> Result<CarrierShipment, InvokeError> {
        let request = request.clone();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.create-shipment",
            |i, store| Self::carrier(&i).call_create_shipment(&mut *store, &request)
        )
    }

    /// `carrier.find-shipments`.
    pub async fn find_shipments(
        &self,
        reference: &str,
    ) -> Result<Vec<CarrierShipment>, InvokeError> {
        let reference = reference.to_owned();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.find-shipments",
            |i, store| Self::carrier(&i).call_find_shipments(&mut *store, &reference)
        )
    }

    /// `carrier.void-shipment`.
    pub async fn void_shipment(&self, shipment_id: &str) -> Result<(), InvokeError> {
        let shipment_id = shipment_id.to_owned();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.void-shipment",
            |i, store| Self::carrier(&i).call_void_shipment(&mut *store, &shipment_id)
        )
    }

    /// `carrier.get-label`.
    pub async fn get_label(&self, tracking_number: &str) -> Result<Label, InvokeError> {
        let tracking_number = tracking_number.to_owned();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.get-label",
            |i, store| Self::carrier(&i).call_get_label(&mut *store, &tracking_number)
        )
    }

    /// `carrier.subscribe-tracking`.
    pub async fn subscribe_tracking(
        &self,
        numbers: &[String],
    ) -> Result<SubscriptionResult, InvokeError> {
        let numbers = numbers.to_vec();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.subscribe-tracking",
            |i, store| Self::carrier(&i).call_subscribe_tracking(&mut *store, &numbers)
        )
    }

    /// `carrier.poll-tracking`.
    pub async fn poll_tracking(
        &self,
        bookmark: Option<String>,
    ) -> Result<TrackingPoll, InvokeError> {
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.poll-tracking",
            |i, store| Self::carrier(&i).call_poll_tracking(&mut *store, bookmark.as_deref())
        )
    }

    /// `carrier.track`.
    pub async fn track(&self, tracking_number: &str) -> Result<Vec<TrackingEvent>, InvokeError> {
        let tracking_number = tracking_number.to_owned();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.track",
            |i, store| Self::carrier(&i).call_track(&mut *store, &tracking_number)
        )
    }

    /// `carrier.parse-tracking-webhook`.
    pub async fn parse_tracking_webhook(
        &self,
        body: &[u8],
    ) -> Result<Vec<TrackingEvent>, InvokeError> {
        let body = body.to_vec();
        world_call!(
            self,
            Carrier,
            WorldKind::Carrier,
            "carrier.parse-tracking-webhook",
            |i, store| Self::carrier(&i).call_parse_tracking_webhook(&mut *store, &body)
        )
    }
}

/// Calls the `flow` export of one flow in one tenant.
#[derive(Clone)]
pub struct FlowClient {
    pub(crate) rt: Arc<RuntimeInner>,
    pub(crate) tenant: String,
    pub(crate) plugin: String,
    pub(crate) work: Option<WorkRef>,
}

impl FlowClient {
    fn flow(inst: &SyncFlow) -> &flow::Guest {
        inst.mlc_connect_flow()
    }

    /// `flow.discover`.
    pub async fn discover(&self, tick: &flow::Tick) -> Result<flow::Discovery, InvokeError> {
        let tick = tick.clone();
        world_call!(self, Flow, WorldKind::Flow, "flow.discover", |i, store| {
            Self::flow(&i).call_discover(&mut *store, &tick)
        })
    }

    /// `flow.process`.
    pub async fn process(&self, item: &flow::WorkItem) -> Result<flow::Outcome, InvokeError> {
        let item = item.clone();
        world_call!(self, Flow, WorldKind::Flow, "flow.process", |i, store| {
            Self::flow(&i).call_process(&mut *store, &item)
        })
    }

    /// `flow.maintain`.
    pub async fn maintain(&self, tick: &flow::Tick) -> Result<flow::Upkeep, InvokeError> {
        let tick = tick.clone();
        world_call!(self, Flow, WorldKind::Flow, "flow.maintain", |i, store| {
            Self::flow(&i).call_maintain(&mut *store, &tick)
        })
    }

    /// `flow.handle-tracking`.
    pub async fn handle_tracking(
        &self,
        tick: &flow::Tick,
        events: &[TrackingEvent],
    ) -> Result<flow::TrackingReport, InvokeError> {
        let (tick, events) = (tick.clone(), events.to_vec());
        world_call!(
            self,
            Flow,
            WorldKind::Flow,
            "flow.handle-tracking",
            |i, store| Self::flow(&i).call_handle_tracking(&mut *store, &tick, &events)
        )
    }
}
