//! The service as a whole: several tenants isolated from each other's partners, and the
//! webhook ingress refusing callers without credentials.

use std::sync::Arc;
use std::time::Duration;

use host::cli::demo::{simulator_tenant, store_secrets};
use host::clock::OffsetClock;
use host::config::{Config, ServiceConfig};
use host::db::{ItemState, Store, open_data_dir};
use host::service::{Service, ServiceOptions};
use host::vault::{MasterKey, SecretString, Vault};
use integration_tests::wait_for;
use simulators::{FaultKind, FaultSpec, SimOptions, Simulators};

const CREDENTIAL: &str = "service-test-credential";

struct Running {
    service: Arc<Service>,
    webhook_base: String,
    _dir: tempfile::TempDir,
}

/// Starts a service with one simulator-wired tenant per `(id, simulators)`.
async fn start(tenants: &[(&str, &Simulators)]) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let webhook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook_base = format!("http://{}", webhook.local_addr().unwrap());
    let key = MasterKey::generate();
    {
        let store: Arc<dyn Store> = open_data_dir(&data_dir).unwrap();
        let vault = Vault::open(store, key.clone()).unwrap();
        for (id, sims) in tenants {
            store_secrets(&vault, id, &sims.info(), &SecretString::new(CREDENTIAL)).unwrap();
        }
    }
    let config = Config {
        service: ServiceConfig {
            data_dir,
            ..ServiceConfig::default()
        },
        plugins: Default::default(),
        tenants: tenants
            .iter()
            .map(|(id, sims)| simulator_tenant(id, &sims.info(), &webhook_base))
            .collect(),
    };
    config.validate(std::path::Path::new("test")).unwrap();
    let service = Service::build(
        config,
        ServiceOptions {
            clock: Arc::new(OffsetClock::new()),
            master_key: Some(key),
            admin_token: Some(SecretString::new("admin")),
        },
    )
    .await
    .unwrap();
    tokio::spawn(host::cli::serve::serve_on(service.clone(), webhook, admin));
    Running {
        service,
        webhook_base,
        _dir: dir,
    }
}

fn count(service: &Service, tenant: &str, state: ItemState) -> u64 {
    service
        .store()
        .item_counts(Some(tenant))
        .unwrap()
        .get(&state)
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_ups_rate_limits_everything_does_not_hold_up_another() {
    let healthy = Simulators::start(SimOptions {
        shipments: 30,
        bad_addresses: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    // Every UPS API call of this tenant answers 429 with a one-hour Retry-After.
    let throttled = Simulators::start(
        SimOptions {
            shipments: 30,
            bad_addresses: false,
            ..SimOptions::default()
        }
        .fault(FaultSpec::rate("ups.xav", FaultKind::TooManyRequests, 1.0).with_retry_after(3600))
        .fault(FaultSpec::rate("ups.rate", FaultKind::TooManyRequests, 1.0).with_retry_after(3600))
        .fault(FaultSpec::rate("ups.ship", FaultKind::TooManyRequests, 1.0).with_retry_after(3600)),
    )
    .await
    .unwrap();
    let run = start(&[("alpha", &healthy), ("beta", &throttled)]).await;

    let mut runs = run
        .service
        .flow("alpha", "shipment-sync")
        .expect("alpha's flow")
        .subscribe();
    wait_for(
        &mut runs,
        Duration::from_secs(120),
        || count(&run.service, "alpha", ItemState::Completed) >= 30,
        || {
            format!(
                "alpha stalled: {:?}",
                run.service.store().item_counts(Some("alpha")).unwrap()
            )
        },
    )
    .await;
    // Alpha's shipments exist at its UPS, each once.
    let refs = healthy.ups().shipments_by_reference();
    for id in healthy.ifs().ready_shipment_ids() {
        assert_eq!(
            refs.get(&id.to_string()).map(|r| r.active),
            Some(1),
            "alpha shipment {id}"
        );
    }
    // Beta is waiting out its partner's Retry-After: nothing failed, nothing created, and its
    // UPS saw 429s rather than a storm (at most one call per item before the cooldown).
    let beta = run.service.store().item_counts(Some("beta")).unwrap();
    assert_eq!(beta.get(&ItemState::Completed), None, "{beta:?}");
    assert_eq!(beta.get(&ItemState::Failed), None, "{beta:?}");
    assert!(
        beta.get(&ItemState::Retry).copied().unwrap_or(0) > 0,
        "{beta:?}"
    );
    assert!(throttled.ups().shipments().is_empty());
    let throttled_calls = throttled
        .ups()
        .requests(None)
        .iter()
        .filter(|r| r.path.contains("/addressvalidation/"))
        .count();
    assert!(
        (1..=30).contains(&throttled_calls),
        "beta's UPS saw {throttled_calls} address validations"
    );
    run.service.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_without_valid_credentials_are_refused_and_never_reach_the_inbox() {
    let sims = Simulators::start(SimOptions {
        shipments: 1,
        bad_addresses: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let run = start(&[("alpha", &sims)]).await;
    let url = format!("{}/webhooks/ups/alpha", run.webhook_base);
    let client = reqwest::Client::new();
    let body = r#"{"trackingNumber":"1Z999AA10123456784","activityStatus":{"type":"I","code":"OR","description":"On the Way"}}"#;

    let missing = client.post(&url).body(body).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let wrong = client
        .post(&url)
        .header("credential", "guess")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let other_tenant = client
        .post(format!("{}/webhooks/ups/nobody", run.webhook_base))
        .header("credential", CREDENTIAL)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(other_tenant.status(), 404);
    let huge = client
        .post(&url)
        .header("credential", CREDENTIAL)
        .body("x".repeat(300 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert!(
        run.service.store().inbox_counts(None).unwrap().is_empty(),
        "a refused delivery reached the inbox"
    );

    let ok = client
        .post(&url)
        .header("credential", CREDENTIAL)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let again = client
        .post(&url)
        .header("credential", CREDENTIAL)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "a repeated delivery is acknowledged");
    let inbox = run.service.store().inbox_counts(Some("alpha")).unwrap();
    assert_eq!(
        inbox.values().sum::<u64>(),
        1,
        "one inbox entry for two identical deliveries: {inbox:?}"
    );
    run.service.shutdown();
}

/// Finding (issue 17): a second service on the same data directory was not refused; it
/// requeued the first one's in-flight items as "interrupted by the last shutdown". Now it is
/// refused before it reads or writes anything.
#[tokio::test]
async fn a_second_service_on_one_data_dir_is_refused_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        service: ServiceConfig {
            data_dir: dir.path().join("data"),
            ..ServiceConfig::default()
        },
        plugins: Default::default(),
        tenants: Vec::new(),
    };
    let key = MasterKey::generate();
    let options = || ServiceOptions {
        clock: Arc::new(OffsetClock::new()),
        master_key: Some(key.clone()),
        admin_token: None,
    };
    let first = Service::build(config.clone(), options()).await.unwrap();
    // An item the first service is working on.
    let store = first.store();
    let item = host::db::NewItem {
        key: "SHP-1".into(),
        modified_at_ms: 0,
        payload: Ok(serde_json::json!({})),
    };
    store
        .accept_discovered("acme", "shipment-sync", &[item], None, 0)
        .unwrap();
    let claimed = store.claim_due("acme", "shipment-sync", 1, 10).unwrap();
    assert_eq!(claimed.len(), 1);

    let second = Service::build(config.clone(), options()).await;
    let err = second
        .err()
        .expect("the second service is refused")
        .to_string();
    assert!(
        err.contains("another ml-connector is serving from") && err.contains("pid "),
        "{err}"
    );
    let after = store.item(&claimed[0].id).unwrap().unwrap();
    assert_eq!(
        after.state,
        ItemState::Running,
        "the first one's item is untouched"
    );
    assert_eq!(after.attempt, claimed[0].attempt);

    // Once the first one is gone, the directory can be served again (and the item requeued).
    drop(first);
    let third = Service::build(config, options()).await.unwrap();
    let requeued = third.store().item(&claimed[0].id).unwrap().unwrap();
    assert_eq!(requeued.state, ItemState::Pending);
}

/// Finding (issue 20, item 8): refusing a component of the wrong world said
/// "plugin `wrong-world`:" twice in one message.
#[tokio::test]
async fn a_component_of_the_wrong_world_is_refused_naming_the_plugin_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        service: ServiceConfig {
            data_dir: dir.path().join("data"),
            ..ServiceConfig::default()
        },
        plugins: std::collections::BTreeMap::from([(
            "wrong-world".to_owned(),
            host::config::PluginConfig {
                path: Some(integration_tests::bundled::ECHO_CARRIER_PATH.into()),
                world: Some(host::manifest::WorldKind::Erp),
                limits: None,
            },
        )]),
        tenants: Vec::new(),
    };
    let err = Service::build(
        config,
        ServiceOptions {
            clock: Arc::new(OffsetClock::new()),
            master_key: Some(MasterKey::generate()),
            admin_token: None,
        },
    )
    .await
    .err()
    .expect("a carrier loaded as an ERP is refused")
    .to_string();
    assert_eq!(err.matches("plugin `wrong-world`").count(), 1, "{err}");
    assert!(err.contains("does not implement world"), "{err}");
}
