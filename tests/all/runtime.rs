//! The sandboxed plugin runtime: egress control, isolation, limits, load-time checks, and
//! host-mediated linking.

use host::db::{ExchangeQuery, StepStatus};
use host::manifest::{Limits, WorldKind};
use host::runtime::bindings::flow::{Outcome, WorkItem};
use host::runtime::bindings::types::Error as WitError;
use host::runtime::{InvokeError, LoadError, TrapKind, WorkRef};
use integration_tests::{CountingServer, TestHost, bundled};

const T: &str = "tenant-a";

fn probe_host() -> TestHost {
    let h = TestHost::new();
    h.load("probe", WorldKind::Erp, bundled::PROBE_ERP_PATH);
    h
}

async fn probe(h: &TestHost, tenant: &str, command: &str) -> Result<String, InvokeError> {
    h.runtime
        .erp(tenant, "probe")
        .get_shipment(command)
        .await
        .map(|s| s.order_ref)
}

#[tokio::test]
async fn ungranted_host_gets_a_wit_error_and_nothing_is_sent() {
    let server = CountingServer::start().await;
    let other = CountingServer::start().await;
    let h = probe_host();
    // Granted: the other server only (same host, different port).
    h.bind(T, "probe", &[&other.url], &[]);

    let err = probe(&h, T, &format!("http-get {}/secret-stuff", server.url))
        .await
        .unwrap_err();
    match &err {
        InvokeError::Plugin {
            error: WitError::Denied(msg),
            ..
        } => assert!(msg.contains("does not grant"), "{msg}"),
        other => panic!("expected a denied error value, got {other:?}"),
    }
    assert_eq!(server.hits(), 0, "the ungranted server received a request");

    // The granted host works, and both exchanges are on record.
    assert_eq!(
        probe(&h, T, &format!("http-get {}/ok", other.url))
            .await
            .unwrap(),
        "status=200"
    );
    assert_eq!(other.hits(), 1);
    let record = h
        .store
        .exchanges(&ExchangeQuery {
            tenant: Some(T.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(record.len(), 2, "{record:#?}");
    assert!(record[0].outcome.starts_with("denied") && record[0].target.ends_with("/secret-stuff"));
    assert_eq!(
        (record[1].status, record[1].outcome.as_str()),
        (Some(200), "ok")
    );
}

#[tokio::test]
async fn tenants_and_plugins_cannot_read_each_others_secrets_or_storage() {
    let h = probe_host();
    h.load("probe-2", WorldKind::Erp, bundled::PROBE_ERP_PATH);
    h.bind("tenant-a", "probe", &[], &["api-key"]);
    h.bind("tenant-b", "probe", &[], &["api-key"]);
    h.bind("tenant-a", "probe-2", &[], &["api-key"]);
    h.set_secret("tenant-a", "probe", "api-key", "alpha-secret");
    h.set_secret("tenant-b", "probe", "api-key", "beta-secret");

    assert_eq!(
        probe(&h, "tenant-a", "secret api-key").await.unwrap(),
        "alpha-secret"
    );
    assert_eq!(
        probe(&h, "tenant-b", "secret api-key").await.unwrap(),
        "beta-secret"
    );
    // Same name, other plugin: its own (empty) scope.
    let err = h
        .runtime
        .erp("tenant-a", "probe-2")
        .get_shipment("secret api-key")
        .await
        .unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(WitError::NotFound(_))),
        "{err:?}"
    );
    // A name not in the grant is denied even though it exists for someone.
    let err = probe(&h, "tenant-a", "secret other").await.unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(WitError::Denied(_))),
        "{err:?}"
    );

    assert_eq!(
        probe(&h, "tenant-a", "kv-set cursor 42").await.unwrap(),
        "rev=1"
    );
    assert_eq!(probe(&h, "tenant-a", "kv-get cursor").await.unwrap(), "42");
    assert_eq!(
        probe(&h, "tenant-b", "kv-get cursor").await.unwrap(),
        "<none>"
    );
    let other_plugin = h
        .runtime
        .erp("tenant-a", "probe-2")
        .get_shipment("kv-get cursor")
        .await
        .unwrap();
    assert_eq!(other_plugin.order_ref, "<none>");
}

#[tokio::test]
async fn storage_quota_is_enforced_as_an_error_value() {
    let h = probe_host();
    h.bind(T, "probe", &[], &[]);
    let big = "x".repeat(70 * 1024);
    let err = probe(&h, T, &format!("kv-set big {big}"))
        .await
        .unwrap_err();
    match err.plugin_error() {
        Some(WitError::Denied(msg)) => assert!(msg.contains("quota"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn runaway_plugins_fail_only_their_own_call() {
    let h = TestHost::new();
    let limits = Limits {
        memory_bytes: 32 * 1024 * 1024,
        cpu_ms: 200,
        wall_ms: 10_000,
    };
    h.load_with("probe", WorldKind::Erp, bundled::PROBE_ERP_PATH, limits)
        .unwrap();
    h.bind(T, "probe", &[], &[]);

    let started = std::time::Instant::now();
    match probe(&h, T, "spin").await.unwrap_err() {
        InvokeError::Trap {
            kind: TrapKind::CpuDeadline,
            plugin,
            ..
        } => assert_eq!(plugin, "probe"),
        other => panic!("expected the CPU deadline, got {other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the deadline took {:?}",
        started.elapsed()
    );
    assert_eq!(probe(&h, T, "hello").await.unwrap(), "echo hello");

    match probe(&h, T, "alloc").await.unwrap_err() {
        InvokeError::Trap {
            kind: TrapKind::MemoryLimit,
            message,
            ..
        } => assert!(message.contains("memory limit"), "{message}"),
        other => panic!("expected the memory cap, got {other:?}"),
    }
    assert_eq!(
        probe(&h, T, "after-alloc").await.unwrap(),
        "echo after-alloc"
    );

    match probe(&h, T, "panic").await.unwrap_err() {
        InvokeError::Trap {
            kind: TrapKind::Guest,
            ..
        } => {}
        other => panic!("expected a guest trap, got {other:?}"),
    }
    assert_eq!(
        probe(&h, T, "after-panic").await.unwrap(),
        "echo after-panic"
    );
}

#[tokio::test]
async fn wall_clock_timeout_stops_a_plugin_waiting_on_the_network() {
    // A server that never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let h = TestHost::new();
    h.load_with(
        "probe",
        WorldKind::Erp,
        bundled::PROBE_ERP_PATH,
        Limits {
            wall_ms: 500,
            ..Limits::default()
        },
    )
    .unwrap();
    h.bind(T, "probe", &[&url], &[]);
    let err = probe(&h, T, &format!("http-get {url}/hang"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvokeError::Timeout { ms: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(probe(&h, T, "next").await.unwrap(), "echo next");
}

#[tokio::test]
async fn guest_output_goes_to_the_host_log_not_stdout() {
    let logs = crate::credentials::captured_logs();
    let h = probe_host();
    h.bind(T, "probe", &[], &[]);
    let marker = "hello-from-the-guest-7f3a";
    assert_eq!(
        probe(&h, T, &format!("print {marker}")).await.unwrap(),
        "printed"
    );
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("guest stdout did not reach the host log"));
    assert!(
        line.contains("plugin=probe")
            && line.contains("tenant=tenant-a")
            && line.contains("stream=\"stdout\""),
        "{line}"
    );
}

#[test]
fn a_component_importing_an_unprovided_interface_is_refused_at_load() {
    let h = TestHost::new();
    let err = h
        .load_with(
            "bad",
            WorldKind::Erp,
            bundled::BAD_IMPORT_PATH,
            Limits::default(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, LoadError::UnsatisfiedImport { .. }),
        "{err:?}"
    );
    assert!(
        text.contains("`bad`") && text.contains("test:bad/missing"),
        "{text}"
    );
    assert!(
        h.runtime.plugins().is_empty(),
        "a refused plugin must not be registered"
    );
}

#[test]
fn a_component_missing_its_worlds_export_is_refused_at_load() {
    let h = TestHost::new();
    let err = h
        .load_with(
            "probe-as-carrier",
            WorldKind::Carrier,
            bundled::PROBE_ERP_PATH,
            Limits::default(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::MissingExport {
                world: WorldKind::Carrier,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("probe-as-carrier"), "{err}");
}

#[tokio::test]
async fn a_flow_reaches_its_erp_and_carrier_through_the_host() {
    let h = probe_host();
    h.load(
        "echo-carrier",
        WorldKind::Carrier,
        bundled::ECHO_CARRIER_PATH,
    );
    h.load("probe-flow", WorldKind::Flow, bundled::PROBE_FLOW_PATH);
    h.bind(T, "probe", &[], &[]);
    h.bind(T, "echo-carrier", &[], &[]);
    h.bind_flow(T, "probe-flow", "probe", "echo-carrier");

    let shipment = h
        .runtime
        .erp(T, "probe")
        .get_shipment("SHP-1")
        .await
        .unwrap();
    let item = WorkItem {
        id: "item-1".into(),
        key: "SHP-1".into(),
        attempt: 1,
        shipment,
    };
    let outcome = h
        .runtime
        .flow(
            T,
            "probe-flow",
            Some(WorkRef {
                item_id: "item-1".into(),
                attempt: 1,
            }),
        )
        .process(&item)
        .await
        .unwrap();
    // The probe's parcel weighs 1.5 kg; the echo carrier prices 10 + kg.
    assert!(
        matches!(&outcome, Outcome::Completed(s) if s == "SHP-1 rated 11.50"),
        "{outcome:?}"
    );

    // Inside a work item each routed call is recorded once: as a step, naming the connector
    // that served it, and not again as a `call` exchange.
    let steps = h.store.steps("item-1").unwrap();
    let ops: Vec<(&str, Option<&str>, StepStatus)> = steps
        .iter()
        .map(|s| (s.operation.as_str(), s.callee.as_deref(), s.status))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("erp.get-shipment", Some("probe"), StepStatus::Ok),
            (
                "carrier.validate-address",
                Some("echo-carrier"),
                StepStatus::Ok
            ),
            (
                "carrier.rate-shipment",
                Some("echo-carrier"),
                StepStatus::Ok
            ),
        ]
    );
    let calls = h
        .store
        .exchanges(&ExchangeQuery {
            work_item: Some("item-1".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        calls.iter().all(|c| c.kind != "call"),
        "a journaled call is not recorded twice: {calls:?}"
    );
}

#[tokio::test]
async fn a_connector_trap_is_an_error_value_for_the_flow() {
    let h = probe_host();
    h.load(
        "echo-carrier",
        WorldKind::Carrier,
        bundled::ECHO_CARRIER_PATH,
    );
    h.load("probe-flow", WorldKind::Flow, bundled::PROBE_FLOW_PATH);
    h.bind(T, "probe", &[], &[]);
    h.bind(T, "echo-carrier", &[], &[]);
    h.bind_flow(T, "probe-flow", "probe", "echo-carrier");
    let shipment = h.runtime.erp(T, "probe").get_shipment("x").await.unwrap();
    let item = WorkItem {
        id: "item-2".into(),
        key: "panic".into(),
        attempt: 1,
        shipment,
    };
    let err = h
        .runtime
        .flow(T, "probe-flow", None)
        .process(&item)
        .await
        .unwrap_err();
    match err.plugin_error() {
        Some(WitError::Internal(msg)) => {
            assert!(msg.contains("probe") && msg.contains("trapped"), "{msg}")
        }
        other => panic!("the flow should get the connector's trap as an error value: {other:?}"),
    }
}

#[test]
fn wit_deps_are_an_unmodified_copy_of_the_pinned_wasi_http() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "wasmtime-wasi-http")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("wasmtime-wasi-http in the dependency graph");
    let upstream = std::path::Path::new(manifest)
        .parent()
        .unwrap()
        .join("wit/deps");
    let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/deps");
    let mut names: Vec<_> = std::fs::read_dir(&upstream)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let mut our_names: Vec<_> = std::fs::read_dir(&ours)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    our_names.sort();
    assert_eq!(
        our_names,
        names,
        "wit/deps has different files than {}",
        upstream.display()
    );
    for name in names {
        let a = std::fs::read(upstream.join(&name)).unwrap();
        let b = std::fs::read(ours.join(&name)).unwrap();
        assert!(
            a == b,
            "wit/deps/{} differs from {}",
            name.to_string_lossy(),
            upstream.display()
        );
    }
}
