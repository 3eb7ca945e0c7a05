//! Instantiate + call of a trivial export, against one loopback HTTP round trip measured in the
//! same run. Run with `cargo bench -p integration-tests --bench invoke`; prints the ratio.
#![expect(clippy::expect_used, reason = "a benchmark aborts on failure")]

use std::time::{Duration, Instant};

use host::manifest::WorldKind;
use host::runtime::bindings::types::{TrackingEvent, TrackingStatus};
use integration_tests::{CountingServer, TestHost, bundled};

const ROUNDS: u32 = 3;
const N: u32 = 2_000;

fn event() -> TrackingEvent {
    TrackingEvent {
        tracking_number: "1Z999AA10123456784".into(),
        status: TrackingStatus::InTransit,
        carrier_code: "DP".into(),
        description: "On the Way".into(),
        occurred_at: 0,
        location: None,
        delivered_at: None,
        received_by: None,
    }
}

async fn time_calls(h: &TestHost) -> Duration {
    let erp = h.runtime.erp("bench", "probe");
    let ev = event();
    let start = Instant::now();
    for _ in 0..N {
        erp.record_tracking("1", &ev).await.expect("trivial call");
    }
    start.elapsed() / N
}

async fn time_http(client: &reqwest::Client, url: &str) -> Duration {
    let start = Instant::now();
    for _ in 0..N {
        let r = client.get(url).send().await.expect("loopback GET");
        r.bytes().await.expect("body");
    }
    start.elapsed() / N
}

#[tokio::main]
async fn main() {
    let h = TestHost::new();
    h.load("probe", WorldKind::Erp, bundled::PROBE_ERP_PATH);
    h.bind("bench", "probe", &[], &[]);
    let server = CountingServer::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/ping", server.url);
    // Warm up both paths (page faults, connection pool, compilation caches).
    time_calls(&h).await;
    time_http(&client, &url).await;

    let mut best_call = Duration::MAX;
    let mut best_http = Duration::MAX;
    for _ in 0..ROUNDS {
        best_call = best_call.min(time_calls(&h).await);
        best_http = best_http.min(time_http(&client, &url).await);
    }
    println!(
        "fresh store + instantiate + call (erp.record-tracking): {:>8.1} µs/op",
        best_call.as_secs_f64() * 1e6
    );
    println!(
        "loopback HTTP round trip (keep-alive GET):              {:>8.1} µs/op",
        best_http.as_secs_f64() * 1e6
    );
    println!(
        "ratio invoke / HTTP round trip: {:.3}",
        best_call.as_secs_f64() / best_http.as_secs_f64()
    );
}
