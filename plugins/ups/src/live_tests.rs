//! Native runs of the operations against a running UPS simulator (`tests/simulators`), ignored
//! by default: they need its URLs. Start one (e.g. `ml-connector simulate`, or any program calling
//! `simulators::run`) and pass the `ups` part of the JSON line it prints:
//!
//! ```sh
//! UPS_SIM='{"base_url":…,"token_url":…,"client_id":…,"client_secret":…,"account_number":…}' \
//! UPS_SIM_CONTROL=http://127.0.0.1:PORT cargo test -p ups-connector live -- --ignored --test-threads 1
//! ```
//!
//! HTTP goes through a minimal HTTP/1.1 client over `std::net` (plain http to loopback only);
//! the bearer token is fetched once, as the host would.

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine as _;
use mlc_plugin_sdk::host::Level;
use mlc_plugin_sdk::http::Response;
use mlc_plugin_sdk::{
    Address, AddressVerdict, Dimensions, Error, LabelFormat, LengthUnit, Parcel, RateRequest,
    Result, RetryInfo, ShipmentRequest, TrackingStatus, Weight, WeightUnit,
};
use serde_json::{Value, json};

use crate::ops;
use crate::platform::fake::Fake;
use crate::platform::{Method, Outgoing, Platform};

fn raw_http(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Response {
    let rest = url.strip_prefix("http://").expect("plain http only");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(authority).unwrap();
    let body = body.unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = out;
    }
    Response {
        status,
        headers,
        body,
    }
}

struct Live {
    fake: Fake,
    token: std::cell::RefCell<String>,
}

impl Platform for Live {
    fn send(&self, r: &Outgoing) -> Result<Response> {
        let method = match r.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        };
        let mut headers = r.headers.clone();
        headers.push((
            "Authorization".into(),
            format!("Bearer {}", self.token.borrow()),
        ));
        let body = r.body.as_ref().map(|b| serde_json::to_vec(b).unwrap());
        if body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        self.fake.requests.borrow_mut().push(r.clone());
        Ok(raw_http(method, &r.url, &headers, body.as_deref()))
    }
    fn config(&self, key: &str) -> Option<String> {
        self.fake.config(key)
    }
    fn secret(&self, name: &str) -> Result<String> {
        self.fake.secret(name)
    }
    fn load(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        self.fake.load(key)
    }
    fn store(&self, key: &str, value: &[u8]) -> Result<u64> {
        self.fake.store(key, value)
    }
    fn swap(&self, key: &str, expected: Option<u64>, value: &[u8]) -> Result<Option<u64>> {
        self.fake.swap(key, expected, value)
    }
    fn now_ms(&self) -> i64 {
        self.fake.now_ms()
    }
    fn random(&self, n: usize) -> Result<Vec<u8>> {
        let mut b = vec![0; n];
        getrandom::fill(&mut b).unwrap();
        Ok(b)
    }
    fn log(&self, level: Level, message: &str) {
        eprintln!("[{level:?}] {message}");
    }
}

fn sim() -> Option<(Value, String)> {
    let ups: Value = serde_json::from_str(&std::env::var("UPS_SIM").ok()?).unwrap();
    Some((ups, std::env::var("UPS_SIM_CONTROL").unwrap_or_default()))
}

fn token(ups: &Value) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        ups["client_id"].as_str().unwrap(),
        ups["client_secret"].as_str().unwrap()
    ));
    let resp = raw_http(
        "POST",
        ups["token_url"].as_str().unwrap(),
        &[
            ("Authorization".into(), format!("Basic {basic}")),
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ],
        Some(b"grant_type=client_credentials"),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let token: Value = serde_json::from_slice(&resp.body).unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

fn live(ups: &Value) -> Live {
    let fake = Fake::new()
        .with_config("base-url", ups["base_url"].as_str().unwrap())
        .with_config("shipper-number", ups["account_number"].as_str().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    fake.now.set(now);
    Live {
        fake,
        token: std::cell::RefCell::new(token(ups)),
    }
}

fn us(name: &str, line: &str, city: &str, state: &str, zip: &str) -> Address {
    Address {
        name: name.into(),
        attention: Some("Receiving".into()),
        lines: vec![line.into()],
        city: city.into(),
        state: Some(state.into()),
        postal_code: zip.into(),
        country: "US".into(),
        phone: Some("2125550141".into()),
        email: None,
    }
}

fn parcels(n: usize) -> Vec<Parcel> {
    (0..n)
        .map(|i| Parcel {
            id: format!("HU{i}"),
            weight: Weight {
                value: 4.2 + i as f64,
                unit: WeightUnit::Kilograms,
            },
            dimensions: Some(Dimensions {
                length: 40.0,
                width: 30.0,
                height: 20.0,
                unit: LengthUnit::Centimeters,
            }),
            description: Some("Apparel".into()),
        })
        .collect()
}

#[test]
#[ignore = "needs a running UPS simulator (UPS_SIM)"]
fn live_against_the_simulator() {
    let Some((ups, control)) = sim() else {
        eprintln!("UPS_SIM not set; skipped");
        return;
    };
    let p = live(&ups);
    let reference = format!("LIVE-{}", p.fake.now_ms() % 1_000_000_000);

    // Address validation: valid, ambiguous, none.
    let v = ops::validate_address(
        &p,
        us(
            "Hudson Street Outfitters",
            "425 Hudson St",
            "New York",
            "NY",
            "10014",
        ),
    )
    .unwrap();
    let AddressVerdict::Valid(a) = v.verdict else {
        panic!("{:?}", v.verdict)
    };
    assert_eq!(a.postal_code, "10014-2801");
    let v = ops::validate_address(&p, us("X", "425 Hudson St", "New York", "NY", "10099")).unwrap();
    assert!(
        matches!(v.verdict, AddressVerdict::Ambiguous(ref c) if c.len() == 3),
        "{:?}",
        v.verdict
    );
    let v =
        ops::validate_address(&p, us("X", "835 N Michigan Ave", "Chicgo", "IL", "60699")).unwrap();
    assert!(matches!(v.verdict, AddressVerdict::NoCandidates));

    // Rating.
    let to = us(
        "Hudson Street Outfitters",
        "425 Hudson St",
        "New York",
        "NY",
        "10014",
    );
    let one = ops::rate_shipment(
        &p,
        RateRequest {
            ship_to: to.clone(),
            parcels: parcels(2),
            service: Some("03".into()),
            site: None,
        },
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    eprintln!("rate: {:?}", one[0]);
    let shop = ops::rate_shipment(
        &p,
        RateRequest {
            ship_to: to.clone(),
            parcels: parcels(1),
            service: None,
            site: None,
        },
    )
    .unwrap();
    assert!(shop.len() > 3, "{shop:?}");

    // Create, label, find.
    let req = ShipmentRequest {
        idempotency_key: format!("{reference}:create"),
        reference: reference.clone(),
        order_ref: "C1001".into(),
        service: "03".into(),
        ship_to: to.clone(),
        parcels: parcels(2),
        label_format: Some(LabelFormat::Zpl),
        site: None,
    };
    let created = ops::create_shipment(&p, req).unwrap();
    eprintln!("created: {created:?}");
    assert_eq!(created.tracking_numbers.len(), 2);
    let label = ops::get_label(&p, created.tracking_numbers[1].clone()).unwrap();
    assert_eq!(label.format, LabelFormat::Zpl);
    assert!(String::from_utf8_lossy(&label.data).contains(&created.tracking_numbers[1]));
    let found = ops::find_shipments(&p, reference.clone()).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tracking_numbers, created.tracking_numbers);

    // A plugin that crashed before storing: UPS alone finds it, both packages in one shipment.
    let amnesiac = live(&ups);
    let found = ops::find_shipments(&amnesiac, reference.clone()).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].shipment_id, created.shipment_id);
    assert_eq!(found[0].tracking_numbers, created.tracking_numbers);
    assert_eq!(found[0].service, "03");
    assert!(
        ops::find_shipments(&p, "NO-SUCH-REF".into())
            .unwrap()
            .is_empty()
    );

    // Void a second shipment twice (not picked up yet); UPS then reports it voided.
    let mut second = ShipmentRequest {
        idempotency_key: "second".into(),
        reference: format!("{reference}-V"),
        order_ref: "C1002".into(),
        service: "03".into(),
        ship_to: to.clone(),
        parcels: parcels(1),
        label_format: None,
        site: None,
    };
    let v = ops::create_shipment(&p, second.clone()).unwrap();
    ops::void_shipment(&p, v.shipment_id.clone()).unwrap();
    ops::void_shipment(&amnesiac, v.shipment_id.clone()).unwrap();
    let found = ops::find_shipments(&amnesiac, second.reference.clone()).unwrap();
    assert!(found[0].voided, "{found:?}");
    second.reference = format!("{reference}-W");

    // Tracking.
    let events = ops::track(&p, created.tracking_numbers[0].clone()).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.status == TrackingStatus::Manifested),
        "{events:?}"
    );

    // Track Alert: 250 numbers, 2 real, the rest invalid → 3 requests, 2 subscribed; pushes go
    // to a local listener that records each delivery.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let pushes = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let sink = pushes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head, body) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < i + 4 + len {
                        let n = s.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    break (head, buf[i + 4..].to_vec());
                }
            };
            let credential = head
                .lines()
                .find_map(|l| l.strip_prefix("credential:").map(|v| v.trim().to_owned()))
                .unwrap_or_default();
            sink.lock().unwrap().push((credential, body));
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let p = Live {
        fake: p.fake.with_config("trackalert-webhook-url", &hook),
        token: p.token,
    };
    let before = p.fake.requests.borrow().len();
    let mut numbers: Vec<String> = (0..248).map(|i| format!("1ZNOSUCH{i:010}")).collect();
    numbers.insert(7, created.tracking_numbers[0].clone());
    numbers.push(created.tracking_numbers[1].clone());
    let sub = ops::subscribe_tracking(&p, numbers).unwrap();
    assert_eq!(p.fake.requests.borrow().len() - before, 3);
    assert_eq!(sub.subscribed.len(), 2, "{:?}", sub.subscribed);
    assert_eq!(sub.refused.len(), 248);

    // Advance the simulator a day: the pushed events parse, with the credential we chose.
    if !control.is_empty() {
        let resp = raw_http(
            "POST",
            &format!("{control}/clock/advance"),
            &[("Content-Type".into(), "application/json".into())],
            Some(br#"{"days":1,"wait":true}"#),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        std::thread::sleep(std::time::Duration::from_millis(300));
        // The host refreshes tokens; a day later this one has expired.
        *p.token.borrow_mut() = token(&ups);
        *amnesiac.token.borrow_mut() = token(&ups);
        let got = pushes.lock().unwrap().clone();
        assert!(!got.is_empty(), "no webhook pushes received");
        let mut statuses = Vec::new();
        for (credential, body) in &got {
            assert_eq!(credential, "s3cret");
            for e in ops::parse_tracking_webhook(&p, body.clone()).unwrap() {
                assert!(
                    created.tracking_numbers.contains(&e.tracking_number),
                    "{e:?}"
                );
                statuses.push(e.status);
            }
        }
        eprintln!(
            "webhook pushes: {} bodies, statuses {statuses:?}",
            got.len()
        );
        assert!(
            statuses.contains(&TrackingStatus::InTransit),
            "{statuses:?}"
        );
    }

    // Quantum View until drained.
    let mut bookmark = None;
    let mut polled = 0;
    for _ in 0..100 {
        let page = ops::poll_tracking(&p, bookmark).unwrap();
        polled += page.events.len();
        bookmark = page.bookmark;
        if bookmark.is_none() {
            break;
        }
    }
    eprintln!("quantum view: {polled} events");

    // Picked up by now: voiding is refused with UPS's code.
    let err = ops::void_shipment(&p, created.shipment_id.clone()).unwrap_err();
    assert!(
        matches!(err, Error::Rejected(ref v) if v.code == "190101"),
        "{err:?}"
    );

    // 400 with UPS's code.
    let wrong = Live {
        fake: live(&ups).fake.with_config("shipper-number", "ZZZZZZ"),
        token: std::cell::RefCell::new(token(&ups)),
    };
    let mut req = ShipmentRequest {
        idempotency_key: "x".into(),
        reference: reference.clone(),
        order_ref: "C1".into(),
        service: "03".into(),
        ship_to: to.clone(),
        parcels: parcels(1),
        label_format: None,
        site: None,
    };
    let err = ops::create_shipment(&wrong, req.clone()).unwrap_err();
    assert!(
        matches!(err, Error::Rejected(ref v) if v.status == 400 && v.code == "120100"),
        "{err:?}"
    );

    // 429 with Retry-After through the control API.
    if !control.is_empty() {
        let resp = raw_http(
            "POST",
            &format!("{control}/faults"),
            &[("Content-Type".into(), "application/json".into())],
            Some(
                json!({"spec": "ups.ship=429:30@next=1"})
                    .to_string()
                    .as_bytes(),
            ),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        req.reference = format!("{reference}-2");
        let err = ops::create_shipment(&p, req).unwrap_err();
        assert!(
            matches!(
                err,
                Error::RateLimited(RetryInfo {
                    retry_after_ms: Some(30_000),
                    ..
                })
            ),
            "{err:?}"
        );
    }
}
