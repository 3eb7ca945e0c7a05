//! When flows run and what happens to their work: discovery on the tenant's schedule, work
//! items with retries and backoff, the webhook inbox, and upkeep. No wasmtime types here: the
//! scheduler talks to plugins through [`crate::runtime::Runtime`]'s domain calls.

mod flows;
mod runner;
pub mod schedules;

pub use flows::{FlowHandle, FlowStatus, RunRecord};
pub use runner::{FlowRunner, FlowSettings, InboxReport, ProcessReport, RetryPolicy, RunError};
