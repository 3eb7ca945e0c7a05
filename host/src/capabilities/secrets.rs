//! `mlc:connect/secrets`: secrets the operator stored for this plugin in this tenant.
//!
//! A plugin reads only names its grant lists, only from its own scope (the plugin id) in its
//! own tenant. Connection credentials live in `connection:<id>` scopes, which no plugin id can
//! name, so OAuth client secrets and tokens are unreachable from any import.

use std::sync::Arc;

use crate::manifest::Binding;
use crate::runtime::bindings::secrets::Host;
use crate::runtime::bindings::types::Error;
use crate::vault::Vault;

/// What one plugin binding may read: the names its grant lists, from the vault (if the host has
/// a master key).
pub struct SecretsCtx {
    binding: Arc<Binding>,
    vault: Option<Vault>,
}

impl SecretsCtx {
    /// The secrets `binding` is granted, read from `vault`.
    pub fn new(binding: Arc<Binding>, vault: Option<Vault>) -> Self {
        SecretsCtx { binding, vault }
    }
}

impl Host for SecretsCtx {
    #[tracing::instrument(name = "mlc.connect.secrets.get", skip(self), fields(plugin = %self.binding.plugin, tenant = %self.binding.tenant))]
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        // Defence in depth: a plugin loaded under an id shaped like a connection scope must
        // still not reach the connection's client secret or token.
        if self.binding.plugin.starts_with("connection:") {
            return Ok(Err(Error::Denied(format!(
                "plugin id `{}` names a connection scope; its secrets are not readable",
                self.binding.plugin
            ))));
        }
        if !self.binding.grants.secrets.contains(&name) {
            return Ok(Err(Error::Denied(format!(
                "secret `{name}` is not granted to plugin `{}`",
                self.binding.plugin
            ))));
        }
        let Some(vault) = &self.vault else {
            return Ok(Err(Error::Denied(
                "the host has no master key configured, so no secrets are available".into(),
            )));
        };
        Ok(
            match vault.get(&self.binding.tenant, &self.binding.plugin, &name) {
                Ok(Some(value)) => Ok(value.expose().to_owned()),
                Ok(None) => Err(Error::NotFound(format!(
                    "secret `{name}` is not set for plugin `{}`",
                    self.binding.plugin
                ))),
                Err(e) => {
                    tracing::error!("reading secret failed: {e}");
                    Err(Error::Internal(format!(
                        "secret `{name}` could not be read"
                    )))
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{MasterKey, SecretString};

    fn ctx(plugin: &str, granted: &[&str], vault: Option<Vault>) -> SecretsCtx {
        let mut binding = Binding {
            tenant: "acme".into(),
            plugin: plugin.into(),
            ..Binding::default()
        };
        binding.grants.secrets = granted.iter().map(|s| (*s).to_owned()).collect();
        SecretsCtx::new(Arc::new(binding), vault)
    }

    #[tokio::test]
    async fn a_plugin_reads_only_granted_secrets_of_its_own_scope() {
        let store = crate::db::in_memory().unwrap();
        let vault = Vault::open(store, MasterKey::generate()).unwrap();
        vault
            .put(
                "acme",
                "ups",
                "webhook-credential",
                &SecretString::new("hunter2"),
            )
            .unwrap();
        vault
            .put("acme", "ifs", "api-key", &SecretString::new("other"))
            .unwrap();

        let mut ups = ctx(
            "ups",
            &["webhook-credential", "api-key"],
            Some(vault.clone()),
        );
        assert_eq!(
            ups.get("webhook-credential".into()).await.unwrap(),
            Ok("hunter2".to_owned())
        );
        assert!(
            matches!(
                ups.get("api-key".into()).await.unwrap(),
                Err(Error::NotFound(_))
            ),
            "another plugin's secret of the same name is not this plugin's"
        );
        assert!(matches!(
            ups.get("client-secret".into()).await.unwrap(),
            Err(Error::Denied(m)) if m.contains("not granted")
        ));
        let mut connection = ctx("connection:ups", &["client-secret"], Some(vault));
        assert!(matches!(
            connection.get("client-secret".into()).await.unwrap(),
            Err(Error::Denied(_))
        ));
        let mut keyless = ctx("ups", &["webhook-credential"], None);
        assert!(matches!(
            keyless.get("webhook-credential".into()).await.unwrap(),
            Err(Error::Denied(m)) if m.contains("master key")
        ));
    }
}
