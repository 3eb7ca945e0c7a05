//! Faithful, strict, stateful simulators of IFS Cloud (OData + Keycloak tokens) and UPS
//! (OAuth, address validation, rating, shipping, tracking, Track Alert, Quantum View), with
//! fault injection, a controllable clock and an inspection/control API.
//!
//! Start both in-process with [`Simulators::start`], or from the command line through
//! [`run`] (`ml-connector simulate`). Routes, field names and fault keys: `README.md`.
#![recursion_limit = "256"]

mod cli;
mod clock;
mod control;
mod error;
mod faults;
mod ifs;
mod seed;
mod server;
mod ups;
mod util;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use cli::{SimulateArgs, run};
pub use clock::SimClock;
pub use error::SimError;
pub use faults::{FaultKind, FaultSpec, InstalledFault};
pub use ifs::{Entity, IfsHandle, IfsSnapshot, WriteRecord};
pub use server::RequestRecord;
pub use ups::{
    ReferenceCount, Subscription, UpsHandle, UpsPackage, UpsParty, UpsShipmentView, UpsSnapshot,
    WebhookConfig, WebhookDelivery,
};

use server::{Flavor, MwCtx, RequestLog};
use util::fnv;

/// Start-up options. `Default` gives a complete, deterministic setup on free loopback ports.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// IFS listen address (default `127.0.0.1:0`: a free port).
    pub ifs_listen: SocketAddr,
    /// UPS listen address (default `127.0.0.1:0`).
    pub ups_listen: SocketAddr,
    /// Control / inspection API listen address (default `127.0.0.1:0`).
    pub control_listen: SocketAddr,
    /// Number of seeded ready-to-ship (`Completed`) IFS shipments (default 100).
    pub shipments: usize,
    /// Seed for all generated data and for rate-triggered faults (default 42).
    pub seed: u64,
    /// IFS access token lifetime (default 3600 s; IFS Cloud 24R2 uses 180 s).
    pub ifs_token_lifetime: Duration,
    /// UPS `expires_in` in seconds (default 14399).
    pub ups_expires_in: u64,
    /// UPS tokens per UTC day before the token endpoint answers 429 (default 250).
    pub ups_daily_token_quota: u32,
    /// IFS server page size for `@odata.nextLink` paging (default 50).
    pub page_cap: usize,
    /// Faults installed at start-up.
    pub faults: Vec<FaultSpec>,
    /// Simulated start time (default: now).
    pub clock_start: Option<DateTime<Utc>>,
    /// Simulated seconds per real second (default 1.0).
    pub clock_speed: f64,
    /// Seed some shipments whose address UPS answers ambiguous / no candidates (default true).
    pub bad_addresses: bool,
    /// The UPS account qualifies for negotiated rates (default true).
    pub ups_negotiated_rates: bool,
    /// Start with the "single object instead of array" quirk on (default false).
    pub ups_single_object: bool,
    /// Track Alert v2 webhook (configured out of band at UPS).
    pub ups_webhook: Option<WebhookConfig>,
}

impl Default for SimOptions {
    fn default() -> Self {
        let lo = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        SimOptions {
            ifs_listen: lo,
            ups_listen: lo,
            control_listen: lo,
            shipments: 100,
            seed: 42,
            ifs_token_lifetime: Duration::from_secs(3600),
            ups_expires_in: 14_399,
            ups_daily_token_quota: 250,
            page_cap: 50,
            faults: Vec::new(),
            clock_start: None,
            clock_speed: 1.0,
            bad_addresses: true,
            ups_negotiated_rates: true,
            ups_single_object: false,
            ups_webhook: None,
        }
    }
}

impl SimOptions {
    /// Adds a fault to install at start-up.
    pub fn fault(mut self, spec: FaultSpec) -> Self {
        self.faults.push(spec);
        self
    }

    /// Sets the number of seeded shipments.
    pub fn shipments(mut self, n: usize) -> Self {
        self.shipments = n;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// Connection details of the IFS simulator.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IfsInfo {
    /// `http://host:port/main/ifsapplications/projection/v1`
    pub base_url: String,
    /// `http://host:port/auth/realms/<realm>/protocol/openid-connect/token`
    pub token_url: String,
    /// Keycloak realm.
    pub realm: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
}

/// Connection details of the UPS simulator.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpsInfo {
    /// `http://host:port/api`
    pub base_url: String,
    /// `http://host:port/security/v1/oauth/token`
    pub token_url: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// The 6-character shipper account number.
    pub account_number: String,
}

/// What `ml-connector simulate` prints as its first line.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimInfo {
    /// IFS connection.
    pub ifs: IfsInfo,
    /// UPS connection.
    pub ups: UpsInfo,
    /// Base URL of the control / inspection API.
    pub control_url: String,
}

/// Both simulators and the control API, running on the current tokio runtime.
/// Dropping it stops them.
pub struct Simulators {
    info: SimInfo,
    ifs: Arc<ifs::IfsState>,
    ups: Arc<ups::UpsState>,
    faults: Arc<faults::Faults>,
    clock: SimClock,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

fn url_host(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{}", addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{}", addr.port()),
        _ => addr.to_string(),
    }
}

impl Simulators {
    /// Binds the three listeners, seeds the data and starts serving.
    pub async fn start(opts: SimOptions) -> Result<Simulators, SimError> {
        let ifs_l = server::bind(opts.ifs_listen).await?;
        let ups_l = server::bind(opts.ups_listen).await?;
        let ctl_l = server::bind(opts.control_listen).await?;
        let ifs_addr = url_host(ifs_l.local_addr()?);
        let ups_addr = url_host(ups_l.local_addr()?);
        let ctl_addr = url_host(ctl_l.local_addr()?);

        let clock = SimClock::new(opts.clock_start.unwrap_or_else(Utc::now), opts.clock_speed);
        let faults = Arc::new(faults::Faults::new(opts.seed));
        for f in &opts.faults {
            faults.install(f.clone())?;
        }
        let realm = "mlcsim".to_string();
        let info = SimInfo {
            ifs: IfsInfo {
                base_url: format!("http://{ifs_addr}{}", ifs::routes::ODATA_PREFIX),
                token_url: format!(
                    "http://{ifs_addr}/auth/realms/{realm}/protocol/openid-connect/token"
                ),
                realm: realm.clone(),
                client_id: "ml-connector".into(),
                client_secret: format!("ifs-{:016x}", fnv(format!("ifs{}", opts.seed).as_bytes())),
            },
            ups: UpsInfo {
                base_url: format!("http://{ups_addr}/api"),
                token_url: format!("http://{ups_addr}/security/v1/oauth/token"),
                client_id: format!(
                    "{:016X}{:016X}",
                    fnv(b"upsid"),
                    fnv(format!("id{}", opts.seed).as_bytes())
                ),
                client_secret: format!(
                    "{:016x}{:016x}{:016x}",
                    fnv(b"ups"),
                    fnv(format!("s{}", opts.seed).as_bytes()),
                    fnv(format!("t{}", opts.seed).as_bytes())
                ),
                account_number: "9W1A47".into(),
            },
            control_url: format!("http://{ctl_addr}"),
        };

        let ifs_log = Arc::new(RequestLog::default());
        let ups_log = Arc::new(RequestLog::default());
        let ifs_state = Arc::new(ifs::IfsState::new(
            ifs::IfsConfig {
                realm,
                client_id: info.ifs.client_id.clone(),
                client_secret: info.ifs.client_secret.clone(),
                token_lifetime: opts.ifs_token_lifetime,
                page_cap: opts.page_cap.max(1),
                base_url: info.ifs.base_url.clone(),
            },
            clock.clone(),
            ifs_log.clone(),
            &ifs::SeedParams {
                shipments: opts.shipments,
                seed: opts.seed,
                bad_addresses: opts.bad_addresses,
            },
        ));
        let ups_state = Arc::new(ups::UpsState::new(
            ups::UpsConfig {
                client_id: info.ups.client_id.clone(),
                client_secret: info.ups.client_secret.clone(),
                account_number: info.ups.account_number.clone(),
                expires_in: opts.ups_expires_in,
                daily_quota: opts.ups_daily_token_quota,
                negotiated: opts.ups_negotiated_rates,
                seed: opts.seed,
            },
            clock.clone(),
            ups_log.clone(),
        ));
        {
            let handle = ups::UpsHandle {
                state: ups_state.clone(),
            };
            handle.set_single_object(opts.ups_single_object);
            handle.set_webhook(opts.ups_webhook.clone());
        }

        let shutdown = CancellationToken::new();
        let mw = |flavor, log: Arc<RequestLog>, classify| {
            Arc::new(MwCtx {
                flavor,
                faults: faults.clone(),
                log,
                clock: clock.clone(),
                classify,
            })
        };
        let ifs_router =
            ifs::routes::router(ifs_state.clone()).layer(axum::middleware::from_fn_with_state(
                mw(Flavor::Ifs, ifs_log, ifs::routes::classify),
                server::fault_and_log,
            ));
        let ups_router =
            ups::routes::router(ups_state.clone()).layer(axum::middleware::from_fn_with_state(
                mw(Flavor::Ups, ups_log, ups::routes::classify),
                server::fault_and_log,
            ));
        let ctl_router = control::router(Arc::new(control::Shared {
            ifs: ifs_state.clone(),
            ups: ups_state.clone(),
            faults: faults.clone(),
            clock: clock.clone(),
            info: info.clone(),
        }));
        let tasks = vec![
            tokio::spawn(server::serve(ifs_l, ifs_router, shutdown.clone())),
            tokio::spawn(server::serve(ups_l, ups_router, shutdown.clone())),
            tokio::spawn(server::serve(ctl_l, ctl_router, shutdown.clone())),
            tokio::spawn(ups::pump(ups_state.clone(), shutdown.clone())),
        ];
        Ok(Simulators {
            info,
            ifs: ifs_state,
            ups: ups_state,
            faults,
            clock,
            shutdown,
            tasks,
        })
    }

    /// URLs and credentials (what `simulate` prints).
    pub fn info(&self) -> SimInfo {
        self.info.clone()
    }

    /// The IFS state.
    pub fn ifs(&self) -> IfsHandle {
        IfsHandle {
            state: self.ifs.clone(),
        }
    }

    /// The UPS state.
    pub fn ups(&self) -> UpsHandle {
        ups::UpsHandle {
            state: self.ups.clone(),
        }
    }

    /// The simulated clock.
    pub fn clock(&self) -> SimClock {
        self.clock.clone()
    }

    /// Advances the clock and waits until every due tracking event is generated and pushed.
    pub async fn advance(&self, by: Duration) -> Result<(), SimError> {
        self.clock.advance(by);
        self.ups().flush_webhooks().await
    }

    /// Installs a fault; returns its id.
    pub fn install_fault(&self, spec: FaultSpec) -> Result<u64, SimError> {
        self.faults.install(spec)
    }

    /// Removes one fault; false if there was none with that id.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.faults.remove(id)
    }

    /// Removes all faults; returns how many there were.
    pub fn clear_faults(&self) -> usize {
        self.faults.clear(None)
    }

    /// Faults currently installed.
    pub fn faults(&self) -> Vec<InstalledFault> {
        self.faults.list()
    }

    /// Stops the servers and the webhook pump, and waits for them.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Simulators {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
