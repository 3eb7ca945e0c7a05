//! ml-connector's host: a wasmtime service that keeps IFS Cloud and UPS in sync by running
//! sandboxed WebAssembly components.
//!
//! The modules are the nouns of the system:
//! - [`runtime`]: the engine, loading and checking components, a fresh limited store per
//!   invocation, and domain calls into plugin exports. The only module that touches wasmtime's
//!   `Store`, `Linker` and `Component`.
//! - [`capabilities`]: what plugins may import — one module per WIT interface — including the
//!   egress gate for `wasi:http` and the routing of a flow's `erp`/`carrier` imports.
//! - [`durability`]: the step journal, memoization and exactly-once creation: what makes a
//!   flow's work survive crashes, retries and replays without doing anything twice.
//! - [`db`]: durable state behind the [`db::Store`] trait (SQLite by default).
//! - [`vault`]: secrets encrypted at rest.
//! - [`manifest`]: plugin manifests, grants and tenant bindings.
//! - [`clock`]: the host's (optionally shifted) time.
#![warn(missing_docs)]

pub mod admin;
pub mod bundled;
pub mod capabilities;
pub mod cli;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod db;
pub mod durability;
pub mod manifest;
pub mod runtime;
pub mod scheduler;
pub mod service;
pub mod telemetry;
pub mod vault;
pub mod webhooks;

#[cfg(test)]
mod layering;
