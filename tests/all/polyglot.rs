//! Connectors from other languages: a carrier connector written in Python and built with
//! componentize-py loads and runs in the host like a Rust one. (CI installs componentize-py;
//! elsewhere the test skips with a notice when it is not on PATH.)

use std::path::{Path, PathBuf};
use std::process::Command;

use host::manifest::{Limits, WorldKind};
use host::runtime::bindings::types::{
    Address, AddressVerdict, Error as WitError, Parcel, RateRequest, Weight, WeightUnit,
};
use integration_tests::TestHost;

fn build_python_carrier() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap().keep().join("py-carrier.wasm");
    let result = Command::new("componentize-py")
        .arg("-d")
        .arg(root.join("wit"))
        .args(["-w", "mlc:connect/carrier-connector", "componentize", "-p"])
        .arg(root.join("plugins/fixtures/py-carrier"))
        .arg("app")
        .arg("-o")
        .arg(&out)
        .output();
    match result {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => panic!(
            "componentize-py failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("componentize-py is not installed; .ci/run installs it")
        }
        Err(_) => {
            eprintln!("NOTICE: componentize-py not on PATH; skipping the Python connector test");
            None
        }
    }
}

fn address(postal_code: &str) -> Address {
    Address {
        name: "Receiver".into(),
        attention: None,
        lines: vec!["1 Main St".into()],
        city: "Atlanta".into(),
        state: Some("GA".into()),
        postal_code: postal_code.into(),
        country: "US".into(),
        phone: None,
        email: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_carrier_connector_loads_and_runs() {
    let Some(wasm) = build_python_carrier() else {
        return;
    };
    let h = TestHost::new();
    // Python components are large (~18 MiB) and need more memory than a Rust connector.
    let limits = Limits {
        memory_bytes: 256 * 1024 * 1024,
        cpu_ms: 20_000,
        wall_ms: 60_000,
    };
    h.load_with(
        "py-carrier",
        WorldKind::Carrier,
        wasm.to_str().unwrap(),
        limits,
    )
    .unwrap();
    let mut binding = host::manifest::Binding {
        tenant: "t".into(),
        plugin: "py-carrier".into(),
        ..Default::default()
    };
    binding.settings.insert("currency".into(), "EUR".into());
    h.runtime.bind(binding);
    let carrier = h.runtime.carrier("t", "py-carrier");

    let checked = carrier.validate_address(&address("30303")).await.unwrap();
    match checked.verdict {
        AddressVerdict::Valid(a) => assert_eq!(a.city, "ATLANTA"),
        other => panic!("{other:?}"),
    }
    let err = carrier.validate_address(&address(" ")).await.unwrap_err();
    match err.plugin_error() {
        Some(WitError::InvalidInput(f)) => assert_eq!(f.field, "postal-code"),
        other => panic!("expected an invalid-input error value, got {other:?}"),
    }
    let parcel = |value, unit| Parcel {
        id: "1".into(),
        weight: Weight { value, unit },
        dimensions: None,
        description: None,
    };
    let rates = carrier
        .rate_shipment(&RateRequest {
            ship_to: address("30303"),
            parcels: vec![
                parcel(10.0, WeightUnit::Pounds),
                parcel(1.0, WeightUnit::Kilograms),
            ],
            service: None,
            site: None,
        })
        .await
        .unwrap();
    // 7 + 2 × (4.5359237 + 1) kg, in the tenant's configured currency.
    assert_eq!(
        (
            rates[0].total.amount.as_str(),
            rates[0].total.currency.as_str()
        ),
        ("18.07", "EUR")
    );
}
