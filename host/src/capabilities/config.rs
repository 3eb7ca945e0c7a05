//! `mlc:connect/config`: the tenant's settings for this plugin, from the operator's
//! configuration. Read-only; never contains secrets (those go through `secrets`).

use crate::runtime::bindings::config::Host;
use crate::runtime::state::HostState;

impl Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.inv.binding.settings.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .inv
            .binding
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
