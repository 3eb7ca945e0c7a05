//! `mlc:connect/secrets`: secrets the operator stored for this plugin in this tenant.
//!
//! A plugin reads only names its grant lists, only from its own scope (the plugin id) in its
//! own tenant. Connection credentials live in `connection:<id>` scopes, which no plugin id can
//! name, so OAuth client secrets and tokens are unreachable from any import.

use crate::runtime::bindings::secrets::Host;
use crate::runtime::bindings::types::Error;
use crate::runtime::state::HostState;

impl Host for HostState {
    #[tracing::instrument(name = "mlc.connect.secrets.get", skip(self), fields(plugin = %self.inv.plugin, tenant = %self.inv.tenant))]
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        // Defence in depth: a plugin loaded under an id shaped like a connection scope must
        // still not reach the connection's client secret or token.
        if self.inv.plugin.starts_with("connection:") {
            return Ok(Err(Error::Denied(format!(
                "plugin id `{}` names a connection scope; its secrets are not readable",
                self.inv.plugin
            ))));
        }
        if !self.inv.binding.grants.secrets.contains(&name) {
            return Ok(Err(Error::Denied(format!(
                "secret `{name}` is not granted to plugin `{}`",
                self.inv.plugin
            ))));
        }
        let Some(vault) = &self.rt.services.vault else {
            return Ok(Err(Error::Denied(
                "the host has no master key configured, so no secrets are available".into(),
            )));
        };
        Ok(match vault.get(&self.inv.tenant, &self.inv.plugin, &name) {
            Ok(Some(value)) => Ok(value.expose().to_owned()),
            Ok(None) => Err(Error::NotFound(format!(
                "secret `{name}` is not set for plugin `{}`",
                self.inv.plugin
            ))),
            Err(e) => {
                tracing::error!("reading secret failed: {e}");
                Err(Error::Internal(format!(
                    "secret `{name}` could not be read"
                )))
            }
        })
    }
}
