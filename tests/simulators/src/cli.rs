//! `ml-connector simulate`: command-line arguments and the serve-until-killed loop.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::{FaultSpec, SimError, SimOptions, Simulators, WebhookConfig};

/// Arguments of `ml-connector simulate`.
#[derive(Clone, Debug, clap::Args)]
pub struct SimulateArgs {
    /// IFS listen address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub ifs_listen: SocketAddr,
    /// UPS listen address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub ups_listen: SocketAddr,
    /// Control / inspection API listen address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub control_listen: SocketAddr,
    /// Number of seeded ready-to-ship IFS shipments.
    #[arg(long, default_value_t = 100)]
    pub shipments: usize,
    /// Seed for the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// IFS access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ifs_token_lifetime: u64,
    /// UPS token `expires_in` in seconds.
    #[arg(long, default_value_t = 14_399)]
    pub ups_expires_in: u64,
    /// UPS tokens per UTC day before 429.
    #[arg(long, default_value_t = 250)]
    pub ups_token_quota: u32,
    /// IFS server page size.
    #[arg(long, default_value_t = 50)]
    pub page_cap: usize,
    /// Simulated seconds per real second (e.g. 3600 makes an hour pass each second).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// A fault, `ROUTE=KIND[:ARG][@rate=F|@next=N]`, e.g. `ups.ship=429:30@next=2`. Repeatable.
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Seed no shipments with addresses UPS cannot validate.
    #[arg(long)]
    pub no_bad_addresses: bool,
    /// Answer with single objects where UPS documents arrays (as UPS sometimes does).
    #[arg(long)]
    pub single_object: bool,
    /// Track Alert v2 webhook URL (configured out of band at UPS).
    #[arg(long)]
    pub ups_webhook_url: Option<String>,
    /// `credential` header value for the v2 webhook.
    #[arg(long)]
    pub ups_webhook_credential: Option<String>,
}

impl SimulateArgs {
    /// The options these arguments describe.
    pub fn to_options(&self) -> Result<SimOptions, SimError> {
        let faults = self
            .faults
            .iter()
            .map(|f| FaultSpec::parse_cli(f))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SimOptions {
            ifs_listen: self.ifs_listen,
            ups_listen: self.ups_listen,
            control_listen: self.control_listen,
            shipments: self.shipments,
            seed: self.seed,
            ifs_token_lifetime: Duration::from_secs(self.ifs_token_lifetime),
            ups_expires_in: self.ups_expires_in,
            ups_daily_token_quota: self.ups_token_quota,
            page_cap: self.page_cap,
            faults,
            clock_start: None,
            clock_speed: self.speed,
            bad_addresses: !self.no_bad_addresses,
            ups_negotiated_rates: true,
            ups_single_object: self.single_object,
            ups_webhook: self.ups_webhook_url.clone().map(|url| WebhookConfig {
                url,
                credential: self.ups_webhook_credential.clone(),
            }),
        })
    }
}

/// Starts both simulators, prints the [`crate::SimInfo`] JSON as the first stdout line, and
/// serves until SIGINT or SIGTERM.
pub async fn run(args: SimulateArgs) -> Result<(), SimError> {
    let sims = Simulators::start(args.to_options()?).await?;
    let line = serde_json::to_string(&sims.info())?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    wait_for_signal().await;
    sims.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
