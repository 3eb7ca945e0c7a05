//! `mlc:connect/config`: the tenant's settings for this plugin, from the operator's
//! configuration. Read-only; never contains secrets (those go through `secrets`). A plugin
//! reads only its own binding's settings.

use std::sync::Arc;

use crate::manifest::Binding;
use crate::runtime::bindings::config::Host;

/// The settings of one plugin binding.
pub struct ConfigCtx {
    binding: Arc<Binding>,
}

impl ConfigCtx {
    /// The settings of `binding`.
    pub fn new(binding: Arc<Binding>) -> Self {
        ConfigCtx { binding }
    }
}

impl Host for ConfigCtx {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.binding.settings.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .binding
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plugin_reads_its_own_settings_and_nothing_else() {
        let mut binding = Binding {
            tenant: "acme".into(),
            plugin: "ups".into(),
            ..Binding::default()
        };
        binding
            .settings
            .insert("base-url".into(), "http://x".into());
        let mut ctx = ConfigCtx::new(Arc::new(binding));
        assert_eq!(
            ctx.get("base-url".into()).await.unwrap().as_deref(),
            Some("http://x")
        );
        assert_eq!(ctx.get("other".into()).await.unwrap(), None);
        assert_eq!(
            ctx.get_all().await.unwrap(),
            vec![("base-url".to_owned(), "http://x".to_owned())]
        );
    }
}
