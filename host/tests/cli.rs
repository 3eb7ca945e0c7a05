//! The `ml-connector` binary as operators run it: the demo's JSON contract, and the service
//! surviving SIGKILL at random moments without losing or duplicating anything.
//!
//! These live beside the host crate (not in `tests/all`) because they need the built binary
//! (`CARGO_BIN_EXE_ml-connector`); they only spawn processes and speak HTTP, so this test
//! binary does not link the host library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step should fail the test loudly"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ml-connector");

#[test]
fn demo_json_run_ships_tracks_and_summarizes_two_hundred_shipments() {
    let out = Command::new(BIN)
        .args(["demo", "--shipments", "200", "--exit-when-done", "--json"])
        .env("RUST_LOG", "error")
        .output()
        .expect("running ml-connector demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout must carry JSON lines only: {e}: {l}"))
        })
        .collect();
    let ready = &lines[0];
    assert_eq!(ready["event"], "ready");
    assert!(
        ready["admin_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(!ready["admin_token"].as_str().unwrap().is_empty());
    for key in [
        "base_url",
        "token_url",
        "realm",
        "client_id",
        "client_secret",
    ] {
        assert!(
            ready["simulators"]["ifs"][key].is_string(),
            "simulators.ifs.{key}"
        );
    }
    for key in [
        "base_url",
        "token_url",
        "client_id",
        "client_secret",
        "account_number",
    ] {
        assert!(
            ready["simulators"]["ups"][key].is_string(),
            "simulators.ups.{key}"
        );
    }
    assert!(ready["simulators"]["control_url"].is_string());
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary", "{summary}");
    for (key, want) in [
        ("shipments", 200),
        ("ups_shipments_created", 200),
        ("duplicates", 0),
        ("tracking_written_back", 200),
        ("freight_charges_posted", 200),
        ("delivered_in_ifs", 200),
        ("held", 0),
        ("failed", 0),
    ] {
        assert_eq!(summary[key], want, "{key} in {summary}");
    }
    assert!(summary["token_requests"]["ifs"].as_u64().unwrap() >= 1);
    assert!(summary["token_requests"]["ups"].as_u64().unwrap() >= 1);
    assert!(summary["elapsed_s"].is_number());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn origin(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    format!("http://{}", rest.split('/').next().unwrap())
}

fn set_secret(data_dir: &Path, key: &str, tenant: &str, scope: &str, name: &str, value: &str) {
    let mut child = Command::new(BIN)
        .args(["secrets", "set", "--data-dir"])
        .arg(data_dir)
        .args(["--tenant", tenant, "--scope", scope, name])
        .env("MLC_MASTER_KEY", key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "secrets set {scope}/{name}"
    );
}

struct Killable(Child);

impl Drop for Killable {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(config: &Path, key: &str) -> Killable {
    Killable(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .env("MLC_MASTER_KEY", key)
            .env("MLC_ADMIN_TOKEN", "kill-test-admin")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

async fn wait_ready(client: &reqwest::Client, admin: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{admin}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready");
}

/// Counts, from the simulators' own state: UPS shipments per seeded IFS shipment, written-back
/// tracking numbers, freight charges and deliveries.
struct SimState {
    created: usize,
    live_duplicates: usize,
    written_back: usize,
    charged: usize,
    delivered: usize,
}

async fn sim_state(client: &reqwest::Client, control: &str, ids: &[i64]) -> SimState {
    let refs = get_json(client, &format!("{control}/ups/references")).await;
    let mut created = 0;
    let mut live_duplicates = 0;
    for id in ids {
        if let Some(r) = refs.get(id.to_string()) {
            created += r["created"].as_u64().unwrap() as usize;
            live_duplicates += (r["active"].as_u64().unwrap() as usize).saturating_sub(1);
        }
    }
    let ifs = get_json(client, &format!("{control}/ifs/state")).await;
    let mut written_back = 0;
    let mut delivered = 0;
    let mut charged = 0;
    for s in ifs["shipments"].as_array().unwrap() {
        let id = s["ShipmentId"].as_i64().unwrap();
        if !ids.contains(&id) {
            continue;
        }
        written_back += usize::from(s["ProNo"].as_str().is_some_and(|p| p.starts_with("1Z")));
        delivered += usize::from(s["Cf$_TrackingStatus"] == "Delivered");
    }
    for charges in ifs["charges"].as_object().unwrap().values() {
        charged += charges
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ShipmentId"].as_i64().is_some_and(|id| ids.contains(&id)))
            .count();
    }
    SimState {
        created,
        live_duplicates,
        written_back,
        charged,
        delivered,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_survives_sigkill_at_random_moments_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // The simulators run in their own process, so they outlive every host crash.
    let mut sim = Killable(
        Command::new(BIN)
            .args([
                "simulate",
                "--ifs-listen",
                "127.0.0.1:0",
                "--ups-listen",
                "127.0.0.1:0",
                "--shipments",
                "200",
                "--no-bad-addresses",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(sim.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let info: Value = serde_json::from_str(&first).expect("simulate prints its JSON first");
    let control = info["control_url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let client = reqwest::Client::new();
    let ids: Vec<i64> = get_json(&client, &format!("{control}/ifs/shipments"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Objstate"] == "Completed")
        .map(|s| s["ShipmentId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 200);

    let key = "a2lsbC10ZXN0LWtleS1hYWFhYWFhYWFhYWFhYWFhYWE="; // 32 bytes, base64
    let (admin_port, webhook_port) = (free_port(), free_port());
    let admin = format!("http://127.0.0.1:{admin_port}");
    let (ifs, ups) = (&info["ifs"], &info["ups"]);
    let config = format!(
        r#"
[service]
data_dir = "{data}"
admin_listen = "127.0.0.1:{admin_port}"
webhook_listen = "127.0.0.1:{webhook_port}"

[[tenants]]
id = "acme"

[tenants.connections.ifs]
token_url = "{ifs_token}"
client_id = "{ifs_client}"
client_secret = {{ secret = "client-secret" }}
client_auth = "body"
hosts = ["{ifs_origin}"]

[tenants.connections.ups]
token_url = "{ups_token}"
client_id = "{ups_client}"
client_secret = {{ secret = "client-secret" }}
client_auth = "basic"
hosts = ["{ups_origin}"]

[tenants.plugins.ifs-cloud]
hosts = ["{ifs_origin}"]
connections = ["ifs"]
settings = {{ host = "{ifs_origin}", "freight.charge-type" = "FREIGHT", "writeback.carrier-shipment-id-field" = "Cf$_CarrierShipmentId" }}

[tenants.plugins.ups]
hosts = ["{ups_origin}"]
connections = ["ups"]
secrets = ["trackalert-credential"]

[tenants.plugins.ups.settings]
base-url = "{ups_base}"
shipper-number = "{account}"
ship-from = '{{"name":"ML Apparel Inc.","lines":["1200 Fulton Industrial Blvd SW"],"city":"Atlanta","state":"GA","postal-code":"30336","country":"US","phone":"4045550100"}}'
sites = '{{"VNL1":{{"ship-from":{{"name":"ML Apparel Europe B.V.","lines":["Celsiusweg 20"],"city":"Venlo","postal-code":"5928 PR","country":"NL","phone":"+31775550100"}}}}}}'
trackalert-webhook-url = "http://127.0.0.1:{webhook_port}/webhooks/ups/acme"

[tenants.flows.shipment-sync]
erp = "ifs-cloud"
carrier = "ups"
schedule = {{ every = "1s" }}
maintain_every = "1s"
concurrency = 16
max_attempts = 50
retry_base = "200ms"
retry_max = "2s"

[tenants.webhook]
carrier = "ups"
flow = "shipment-sync"
credential = {{ secret = "trackalert-credential" }}
"#,
        data = data_dir.display(),
        ifs_token = ifs["token_url"].as_str().unwrap(),
        ifs_client = ifs["client_id"].as_str().unwrap(),
        ifs_origin = origin(ifs["base_url"].as_str().unwrap()),
        ups_token = ups["token_url"].as_str().unwrap(),
        ups_client = ups["client_id"].as_str().unwrap(),
        ups_origin = origin(ups["base_url"].as_str().unwrap()),
        ups_base = ups["base_url"].as_str().unwrap(),
        account = ups["account_number"].as_str().unwrap(),
    );
    let config_path = dir.path().join("ml-connector.toml");
    std::fs::write(&config_path, config).unwrap();
    set_secret(
        &data_dir,
        key,
        "acme",
        "connection:ifs",
        "client-secret",
        ifs["client_secret"].as_str().unwrap(),
    );
    set_secret(
        &data_dir,
        key,
        "acme",
        "connection:ups",
        "client-secret",
        ups["client_secret"].as_str().unwrap(),
    );
    set_secret(
        &data_dir,
        key,
        "acme",
        "ups",
        "trackalert-credential",
        "kill-test-credential",
    );
    set_secret(
        &data_dir,
        key,
        "acme",
        "webhook",
        "trackalert-credential",
        "kill-test-credential",
    );

    // Outbound, with the host killed (SIGKILL) at random moments.
    let mut kills = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next_random = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    while kills < 12 {
        let host = serve(&config_path, key);
        wait_ready(&client, &admin).await;
        tokio::time::sleep(Duration::from_millis(100 + next_random(900))).await;
        drop(host); // SIGKILL
        kills += 1;
    }
    // Let the outbound work finish.
    let host = serve(&config_path, key);
    wait_ready(&client, &admin).await;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let s = sim_state(&client, &control, &ids).await;
        if s.written_back == ids.len() && s.charged >= ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "outbound did not finish: {} written back, {} charged",
            s.written_back,
            s.charged
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give upkeep a moment to subscribe every tracking number.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(host);

    // Tracking, still with kills: time moves on at UPS only while a host is up to take the
    // pushes (UPS does not redeliver); kills then land between acknowledgement and processing.
    let mut day_steps = 0;
    loop {
        let host = serve(&config_path, key);
        wait_ready(&client, &admin).await;
        let advanced = client
            .post(format!("{control}/clock/advance"))
            .json(&serde_json::json!({ "hours": 6, "wait": true }))
            .send()
            .await
            .unwrap();
        assert!(advanced.status().is_success());
        day_steps += 1;
        tokio::time::sleep(Duration::from_millis(next_random(600))).await;
        drop(host); // SIGKILL, possibly with deliveries in the inbox not yet processed
        kills += 1;
        let s = sim_state(&client, &control, &ids).await;
        if (kills >= 22 && day_steps >= 24) || s.delivered == ids.len() || day_steps >= 40 {
            break;
        }
    }
    assert!(kills >= 20, "only {kills} kills");
    // A last run drains whatever the kills left in the inbox.
    let _host = serve(&config_path, key);
    wait_ready(&client, &admin).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let final_state = loop {
        let s = sim_state(&client, &control, &ids).await;
        if s.delivered == ids.len() || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        final_state.live_duplicates, 0,
        "two live UPS shipments for one IFS shipment"
    );
    assert_eq!(final_state.created, ids.len(), "UPS shipments created");
    assert_eq!(final_state.written_back, ids.len());
    assert_eq!(
        final_state.charged,
        ids.len(),
        "exactly one freight charge each"
    );
    assert_eq!(
        final_state.delivered,
        ids.len(),
        "tracking updates lost after {kills} kills"
    );
}

#[tokio::test]
async fn serve_refuses_a_bad_config_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[service]\nadmin_listen = \"not an address\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("admin_listen"),
        "{err}"
    );

    let admin_port = free_port();
    let good = dir.path().join("ml-connector.toml");
    std::fs::write(
        &good,
        format!(
            "[service]\ndata_dir = \"{}\"\nadmin_listen = \"127.0.0.1:{admin_port}\"\nwebhook_listen = \"127.0.0.1:{}\"\n",
            dir.path().join("data").display(),
            free_port()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&good)
        .env("RUST_LOG", "error")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    wait_ready(&client, &format!("http://127.0.0.1:{admin_port}")).await;
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "serve exited with {status} on SIGTERM");
}

/// Finding (issue 13): `serve` with an empty config failed because the default `data_dir` is
/// relative and wasmtime's compilation cache needs an absolute path. A relative data directory
/// is resolved against the working directory once, and the paths the host prints are absolute.
#[test]
fn serve_with_an_empty_config_uses_a_relative_data_dir_under_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    std::fs::write(cwd.join("empty.toml"), "").unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", "empty.toml"])
        .current_dir(&cwd)
        .env("RUST_LOG", "host=info")
        .env("MLC_ADMIN_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("MLC_WEBHOOK_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env_remove("MLC_DATA_DIR")
        .env_remove("MLC_MASTER_KEY")
        .env_remove("MLC_MASTER_KEY_FILE")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log
        .iter()
        .any(|l: &String| l.contains("ml-connector is running"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) => log.push(line),
            Err(_) => panic!("serve did not start:\n{}", log.join("\n")),
        }
    }
    let expected = cwd.join("ml-connector-data");
    assert!(
        expected.join("ml-connector.db").is_file(),
        "{}",
        log.join("\n")
    );
    assert!(
        log.iter().any(|l| l.contains("opening the data directory")
            && l.contains(&expected.display().to_string())),
        "the data directory is printed absolute:\n{}",
        log.join("\n")
    );
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}\n{}", log.join("\n"));
}

/// `store check` on a sound store and on one damaged in the middle (issue 13, item 4).
#[test]
fn store_check_reports_a_sound_and_a_damaged_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // `secrets set` creates the store; a few hundred secrets give it pages to damage.
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    for i in 0..3 {
        set_secret(
            &data,
            key,
            "acme",
            "ups",
            &format!("s{i}"),
            &"x".repeat(3000),
        );
    }
    let check = || {
        Command::new(BIN)
            .args(["store", "check", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap()
    };
    let ok = check();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");

    let db = data.join("ml-connector.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() >= 3 * 4096, "{}", bytes.len());
    let last = (bytes.len() / 4096 - 1) * 4096;
    bytes[last..last + 4096].fill(0xAB);
    std::fs::write(&db, bytes).unwrap();

    let bad = check();
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("damaged: ") && stdout.contains("restore"),
        "{stdout}"
    );
}
