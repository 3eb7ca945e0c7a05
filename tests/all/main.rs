//! The one integration-test binary (one link of wasmtime instead of one per file).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed step should fail the test loudly, helpers included"
)]

mod admin;
mod credentials;
mod ifs_cloud;
mod polyglot;
mod runtime;
mod service;
mod shipment_sync;
mod ups;
