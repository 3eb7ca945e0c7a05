//! `mlc:connect/storage`: durable key-value storage private to this plugin in this tenant.
//!
//! The namespace is (tenant, plugin) and comes from the invocation, never from the guest, so a
//! plugin cannot address another plugin's or tenant's keys. Writes count against the grant's
//! quota (keys + values); a write past it is refused with `denied`.

use std::sync::Arc;

use crate::db::{Scope, Store, StoreError};
use crate::manifest::{Binding, DEFAULT_STORAGE_QUOTA};
use crate::runtime::bindings::storage::{Entry, Host};
use crate::runtime::bindings::types::Error;

/// Longest key accepted.
const MAX_KEY: usize = 512;
/// Most keys one `list-keys` returns.
const MAX_LIST: u32 = 1000;

/// One plugin's namespace in one tenant, and its quota.
pub struct StorageCtx {
    scope: Scope,
    quota: u64,
    store: Arc<dyn Store>,
}

impl StorageCtx {
    /// The namespace of `binding` (its tenant and plugin) in `store`.
    pub fn new(binding: &Binding, store: Arc<dyn Store>) -> Self {
        StorageCtx {
            scope: Scope {
                tenant: binding.tenant.clone(),
                plugin: binding.plugin.clone(),
            },
            quota: binding
                .grants
                .storage_quota_bytes
                .unwrap_or(DEFAULT_STORAGE_QUOTA),
            store,
        }
    }

    fn scope(&self) -> &Scope {
        &self.scope
    }

    fn quota(&self) -> u64 {
        self.quota
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Error::InvalidInput(
            crate::runtime::bindings::types::FieldError {
                subject: "storage".into(),
                field: "key".into(),
                message: format!("keys must be 1 to {MAX_KEY} bytes"),
            },
        ));
    }
    Ok(())
}

fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::QuotaExceeded { quota, .. } => {
            Error::Denied(format!("storage quota of {quota} bytes exceeded"))
        }
        other => {
            tracing::error!("storage failed: {other}");
            Error::Unavailable(crate::runtime::bindings::types::RetryInfo {
                message: "host storage is unavailable".into(),
                retry_after_ms: None,
            })
        }
    }
}

impl Host for StorageCtx {
    #[tracing::instrument(name = "mlc.connect.storage.get", skip(self), fields(plugin = %self.scope.plugin, tenant = %self.scope.tenant))]
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Entry>, Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .store
            .kv_get(self.scope(), &key)
            .map(|e| {
                e.map(|e| Entry {
                    value: e.value,
                    revision: e.revision,
                })
            })
            .map_err(store_error))
    }

    #[tracing::instrument(name = "mlc.connect.storage.set", skip(self, value), fields(plugin = %self.scope.plugin, tenant = %self.scope.tenant, bytes = value.len()))]
    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<u64, Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let r = self
            .store
            .kv_put(self.scope(), &key, &value, None, true, self.quota());
        Ok(r.map(|rev| rev.unwrap_or_default()).map_err(store_error))
    }

    #[tracing::instrument(name = "mlc.connect.storage.compare-and-swap", skip(self, value), fields(plugin = %self.scope.plugin, tenant = %self.scope.tenant))]
    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<u64>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<Option<u64>, Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .store
            .kv_put(self.scope(), &key, &value, expected, false, self.quota())
            .map_err(store_error))
    }

    #[tracing::instrument(name = "mlc.connect.storage.delete", skip(self), fields(plugin = %self.scope.plugin, tenant = %self.scope.tenant))]
    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .store
            .kv_delete(self.scope(), &key)
            .map_err(store_error))
    }

    #[tracing::instrument(name = "mlc.connect.storage.list-keys", skip(self), fields(plugin = %self.scope.plugin, tenant = %self.scope.tenant))]
    async fn list_keys(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        Ok(self
            .store
            .kv_list(
                self.scope(),
                &prefix,
                start_after.as_deref(),
                limit.min(MAX_LIST),
            )
            .map_err(store_error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(store: &Arc<dyn Store>, tenant: &str, plugin: &str, quota: Option<u64>) -> StorageCtx {
        let mut binding = Binding {
            tenant: tenant.into(),
            plugin: plugin.into(),
            ..Binding::default()
        };
        binding.grants.storage_quota_bytes = quota;
        StorageCtx::new(&binding, store.clone())
    }

    #[tokio::test]
    async fn namespaces_revisions_and_quota() {
        let store = crate::db::in_memory().unwrap();
        let mut a = ctx(&store, "acme", "ups", Some(64));
        let mut other_tenant = ctx(&store, "globex", "ups", None);

        assert_eq!(a.set("cursor".into(), b"1".to_vec()).await.unwrap(), Ok(1));
        assert_eq!(
            a.compare_and_swap("cursor".into(), Some(7), b"2".to_vec())
                .await
                .unwrap(),
            Ok(None),
            "a stale revision does not write"
        );
        assert_eq!(
            a.compare_and_swap("cursor".into(), Some(1), b"2".to_vec())
                .await
                .unwrap(),
            Ok(Some(2))
        );
        assert_eq!(other_tenant.get("cursor".into()).await.unwrap(), Ok(None));
        assert!(matches!(
            a.set("big".into(), vec![0; 100]).await.unwrap(),
            Err(Error::Denied(m)) if m.contains("quota")
        ));
        assert!(matches!(
            a.get(String::new()).await.unwrap(),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(
            a.list_keys(String::new(), None, 10).await.unwrap(),
            Ok(vec!["cursor".to_owned()])
        );
    }
}
