//! Loaded plugins and their versions: the checked, pre-instantiated handle of each version,
//! and hot swap — every version kept with its hash, activation by swapping the `Arc` in the
//! plugin map (in-flight calls keep the one they hold and finish on the old version), and
//! probation: a new version that traps or fails to instantiate in its first calls is rolled
//! back to the version it replaced, with the reason recorded.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};

use super::RuntimeInner;
use super::bindings::{CarrierConnectorPre, ErpConnectorPre, SyncFlowPre};
use super::invoke::InvokeError;
use super::metrics::Metrics;
use super::state::HostState;
use crate::db::{PluginStore, PluginVersionRecord, StoreError};
use crate::manifest::{Manifest, WorldKind};

/// Why a component was refused. Every case names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a valid component, or compilation failed.
    #[error("plugin `{plugin}` is not a valid component: {source:#}")]
    Compile {
        /// The plugin id.
        plugin: String,
        /// Why.
        #[source]
        source: wasmtime::Error,
    },
    /// It imports something the host does not provide.
    #[error("plugin `{plugin}` imports something the host does not provide: {reason}")]
    UnsatisfiedImport {
        /// The plugin id.
        plugin: String,
        /// wasmtime's account, naming the import.
        reason: String,
    },
    /// It lacks an export its declared world requires, or an export has the wrong type.
    #[error("plugin `{plugin}` does not implement world {world}: {reason}")]
    MissingExport {
        /// The plugin id.
        plugin: String,
        /// The declared world.
        world: WorldKind,
        /// wasmtime's account, naming the export.
        reason: String,
    },
}

/// A loaded plugin, as reported to operators.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PluginInfo {
    /// Plugin id.
    pub id: String,
    /// Version from the manifest.
    pub version: String,
    /// World.
    pub world: WorldKind,
    /// SHA-256 of the component bytes, hex.
    pub hash: String,
}

pub(crate) enum LoadedKind {
    Erp(ErpConnectorPre<HostState>),
    Carrier(CarrierConnectorPre<HostState>),
    Flow(SyncFlowPre<HostState>),
}

pub(crate) struct LoadedPlugin {
    pub(crate) manifest: Manifest,
    pub(crate) hash: String,
    pub(crate) kind: LoadedKind,
    /// Calls left on probation; 0 when proven (or configured at start-up).
    pub(crate) probation: AtomicU32,
}

impl LoadedPlugin {
    pub(crate) fn info(&self) -> PluginInfo {
        PluginInfo {
            id: self.manifest.id.clone(),
            version: self.manifest.version.clone(),
            world: self.manifest.world,
            hash: self.hash.clone(),
        }
    }
}

/// Pre-instantiates `component` against `linker` (every import must be provided) and checks
/// the world's exports. Extra exports are fine: other toolchains add their own.
pub(crate) fn check(
    manifest: &Manifest,
    linker: &Linker<HostState>,
    component: &Component,
    hash: String,
) -> Result<LoadedPlugin, LoadError> {
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| LoadError::UnsatisfiedImport {
            plugin: manifest.id.clone(),
            reason: format!("{e:#}"),
        })?;
    let missing = |e: wasmtime::Error| LoadError::MissingExport {
        plugin: manifest.id.clone(),
        world: manifest.world,
        reason: format!("{e:#}"),
    };
    let kind = match manifest.world {
        WorldKind::Erp => LoadedKind::Erp(ErpConnectorPre::new(pre).map_err(missing)?),
        WorldKind::Carrier => LoadedKind::Carrier(CarrierConnectorPre::new(pre).map_err(missing)?),
        WorldKind::Flow => LoadedKind::Flow(SyncFlowPre::new(pre).map_err(missing)?),
    };
    Ok(LoadedPlugin {
        manifest: manifest.clone(),
        hash,
        kind,
        probation: AtomicU32::new(0),
    })
}

/// How many calls a newly activated version is on probation for: a trap or an instantiation
/// failure in that window rolls it back to the version it replaced.
pub const PROBATION_CALLS: u32 = 5;

/// What became of a plugin version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionStatus {
    /// New invocations use it.
    Active,
    /// It was active before; it can be activated again.
    Previous,
    /// It failed its first calls (or an operator rolled it back); the reason says why.
    RolledBack,
    /// It failed to compile or its contract check; the reason says why.
    Refused,
}

impl VersionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Active => "active",
            VersionStatus::Previous => "previous",
            VersionStatus::RolledBack => "rolled-back",
            VersionStatus::Refused => "refused",
        }
    }
}

/// One version of a plugin, as reported to operators.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// The recorded facts.
    #[serde(flatten)]
    pub record: PluginVersionRecord,
    /// Calls left on probation (0 once it passed, or when it is not active).
    pub probation_calls_left: u32,
}

/// Why a version operation failed. Every case names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// No plugin with this id is loaded.
    #[error("plugin `{plugin}` is not loaded")]
    UnknownPlugin {
        /// The plugin id.
        plugin: String,
    },
    /// A plugin id must be lower-case letters, digits and `-`.
    #[error("`{plugin}` is not a valid plugin id (lower-case letters, digits and `-`)")]
    InvalidId {
        /// The id.
        plugin: String,
    },
    /// The plugin has no such version (or its component bytes are gone).
    #[error("plugin `{plugin}` has no loadable version {selector}")]
    UnknownVersion {
        /// The plugin id.
        plugin: String,
        /// The hash or version asked for.
        selector: String,
    },
    /// There is no earlier version to go back to.
    #[error("plugin `{plugin}` has no earlier version to roll back to")]
    NoPrevious {
        /// The plugin id.
        plugin: String,
    },
    /// The component was refused (compile or contract check).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The component file could not be read or written.
    #[error("plugin `{plugin}`: component file {path}: {source}")]
    Io {
        /// The plugin id.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The version index could not be written.
    #[error("plugin `{plugin}`: cannot record the version: {source}")]
    Store {
        /// The plugin id.
        plugin: String,
        /// Why.
        #[source]
        source: StoreError,
    },
}

struct Persist {
    store: Arc<dyn PluginStore>,
    dir: PathBuf,
}

#[derive(Default)]
struct VersionState {
    /// Per plugin, oldest first.
    records: BTreeMap<String, Vec<PluginVersionRecord>>,
    /// The compiled version a rollback returns to, per plugin.
    previous: HashMap<String, Arc<LoadedPlugin>>,
    /// Component bytes by (plugin, hash), kept in memory only when nothing persists them.
    bytes: HashMap<(String, String), Arc<[u8]>>,
}

/// Every version of every plugin: the history, the rollback target, and (when enabled) the
/// durable index and component files.
#[derive(Default)]
pub(crate) struct Versions {
    state: Mutex<VersionState>,
    persist: OnceLock<Persist>,
    /// When persistence was enabled (this start), ms.
    started_ms: OnceLock<i64>,
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The short name of a world, as the config and the API spell it.
pub fn world_id(world: WorldKind) -> &'static str {
    match world {
        WorldKind::Erp => "erp",
        WorldKind::Carrier => "carrier",
        WorldKind::Flow => "flow",
    }
}

/// The meta key remembering which version of a plugin was last chosen at run time.
fn pin_key(plugin: &str) -> String {
    format!("plugin.active.{plugin}")
}

impl Versions {
    fn lock(&self) -> std::sync::MutexGuard<'_, VersionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl RuntimeInner {
    fn now_ms(&self) -> i64 {
        self.services.clock.now_ms()
    }

    /// Compiles (or takes from the cache) and checks a component against its manifest.
    pub(crate) fn compile(
        &self,
        manifest: &Manifest,
        bytes: &[u8],
    ) -> Result<LoadedPlugin, LoadError> {
        let hash = hex::encode(Sha256::digest(bytes));
        let component =
            Component::new(&self.engine, bytes).map_err(|source| LoadError::Compile {
                plugin: manifest.id.clone(),
                source,
            })?;
        let linker = match manifest.world {
            WorldKind::Flow => &self.flow_linker,
            _ => &self.connector_linker,
        };
        check(manifest, linker, &component, hash)
    }

    fn component_path(&self, plugin: &str, hash: &str) -> Option<PathBuf> {
        self.versions
            .persist
            .get()
            .map(|p| p.dir.join(plugin).join(format!("{hash}.wasm")))
    }

    /// Keeps the bytes of a version: on disk when persisting, else in memory.
    fn keep_bytes(
        &self,
        st: &mut VersionState,
        plugin: &str,
        hash: &str,
        bytes: &[u8],
    ) -> Result<(), VersionError> {
        let Some(path) = self.component_path(plugin, hash) else {
            st.bytes
                .insert((plugin.to_owned(), hash.to_owned()), Arc::from(bytes));
            return Ok(());
        };
        if path.exists() {
            return Ok(());
        }
        let io = |source| VersionError::Io {
            plugin: plugin.to_owned(),
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Write then rename, so a crash never leaves a truncated component under its hash.
        let tmp = path.with_extension("wasm.tmp");
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    fn read_bytes(&self, st: &VersionState, plugin: &str, hash: &str) -> Option<Vec<u8>> {
        if let Some(b) = st.bytes.get(&(plugin.to_owned(), hash.to_owned())) {
            return Some(b.to_vec());
        }
        let path = self.component_path(plugin, hash)?;
        std::fs::read(path).ok()
    }

    /// Updates (or adds) a record in memory and in the durable index.
    fn put_record(&self, st: &mut VersionState, record: PluginVersionRecord) {
        let list = st.records.entry(record.plugin.clone()).or_default();
        match list.iter_mut().find(|r| r.hash == record.hash) {
            Some(r) => {
                r.status = record.status.clone();
                r.reason = record.reason.clone();
                if record.activated_at_ms.is_some() {
                    r.activated_at_ms = record.activated_at_ms;
                }
            }
            None => list.push(record.clone()),
        }
        if let Some(p) = self.versions.persist.get()
            && let Err(e) = p.store.plugin_version_put(&record)
        {
            tracing::error!(plugin = %record.plugin, hash = %record.hash, "cannot record plugin version: {e}");
        }
    }

    fn set_status(
        &self,
        st: &mut VersionState,
        plugin: &str,
        hash: &str,
        status: VersionStatus,
        reason: Option<String>,
    ) {
        let Some(mut record) = st
            .records
            .get(plugin)
            .and_then(|l| l.iter().find(|r| r.hash == hash))
            .cloned()
        else {
            return;
        };
        record.status = status.as_str().to_owned();
        record.reason = reason;
        record.activated_at_ms = None;
        self.put_record(st, record);
    }

    fn pin(&self, plugin: &str, hash: &str) {
        if self.versions.persist.get().is_some()
            && let Err(e) = self.services.store.meta_put(&pin_key(plugin), hash)
        {
            tracing::error!(plugin, "cannot remember the active plugin version: {e}");
        }
    }

    /// Makes `new` the active version: in-flight calls keep the `Arc` they hold and finish on
    /// the version they started with. The replaced version becomes the rollback target.
    fn swap_in(
        &self,
        st: &mut VersionState,
        new: Arc<LoadedPlugin>,
        source: &str,
        probation: bool,
    ) -> PluginInfo {
        let id = new.manifest.id.clone();
        new.probation.store(
            if probation { PROBATION_CALLS } else { 0 },
            Ordering::SeqCst,
        );
        let old = self
            .plugins
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), new.clone());
        // Whatever was recorded active (this run or the last) is now the previous version.
        let stale: Vec<String> = st
            .records
            .get(&id)
            .map(|l| {
                l.iter()
                    .filter(|r| r.status == VersionStatus::Active.as_str() && r.hash != new.hash)
                    .map(|r| r.hash.clone())
                    .collect()
            })
            .unwrap_or_default();
        for hash in stale {
            self.set_status(st, &id, &hash, VersionStatus::Previous, None);
        }
        if let Some(old) = old
            && old.hash != new.hash
        {
            st.previous.insert(id.clone(), old);
        }
        let now = self.now_ms();
        self.put_record(
            st,
            PluginVersionRecord {
                plugin: id.clone(),
                hash: new.hash.clone(),
                version: new.manifest.version.clone(),
                world: world_id(new.manifest.world).to_owned(),
                source: source.to_owned(),
                loaded_at_ms: now,
                status: VersionStatus::Active.as_str().to_owned(),
                reason: None,
                activated_at_ms: Some(now),
            },
        );
        new.info()
    }

    /// The rollback target of a plugin: the version it replaced if still compiled, else the
    /// most recently active earlier version whose component is kept.
    fn rollback_target(
        &self,
        st: &mut VersionState,
        current: &LoadedPlugin,
    ) -> Option<Arc<LoadedPlugin>> {
        let id = &current.manifest.id;
        if let Some(prev) = st.previous.remove(id)
            && prev.hash != current.hash
        {
            return Some(prev);
        }
        let mut candidates: Vec<PluginVersionRecord> = st
            .records
            .get(id)
            .map(|l| {
                l.iter()
                    .filter(|r| {
                        r.status == VersionStatus::Previous.as_str() && r.hash != current.hash
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        candidates.sort_by_key(|r| std::cmp::Reverse(r.activated_at_ms.unwrap_or(r.loaded_at_ms)));
        for record in candidates {
            let Some(bytes) = self.read_bytes(st, id, &record.hash) else {
                continue;
            };
            let mut manifest = current.manifest.clone();
            manifest.version = record.version.clone();
            match self.compile(&manifest, &bytes) {
                Ok(loaded) => return Some(Arc::new(loaded)),
                Err(e) => {
                    tracing::warn!(plugin = %id, hash = %record.hash, "earlier version no longer loads: {e}")
                }
            }
        }
        None
    }

    /// After every call: metrics, and the probation of a new version — a trap or an
    /// instantiation failure among its first calls rolls it back.
    pub(crate) fn after_call(
        &self,
        plugin: &Arc<LoadedPlugin>,
        export: &str,
        elapsed: std::time::Duration,
        error: Option<&InvokeError>,
    ) {
        self.metrics.observe_invocation(
            &plugin.manifest.id,
            Some(&plugin.hash),
            export,
            elapsed,
            error,
        );
        if plugin.probation.load(Ordering::SeqCst) == 0 {
            return;
        }
        match error {
            Some(e @ (InvokeError::Trap { .. } | InvokeError::Instantiate { .. })) => {
                let mut reason = format!("{export} failed during probation: {e}");
                if reason.len() > 2000 {
                    let mut cut = 2000;
                    while !reason.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    reason.truncate(cut);
                }
                self.auto_rollback(plugin, reason);
            }
            _ => {
                if plugin
                    .probation
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    == Ok(1)
                {
                    tracing::info!(plugin = %plugin.manifest.id, hash = %plugin.hash, "plugin version passed probation");
                }
            }
        }
    }

    fn auto_rollback(&self, failing: &Arc<LoadedPlugin>, reason: String) {
        let id = &failing.manifest.id;
        let mut st = self.versions.lock();
        // Several calls may fail at once: only the first rolls back, and only if the failing
        // version is still the active one.
        let active = self.plugin(id);
        if failing.probation.swap(0, Ordering::SeqCst) == 0
            || active.as_ref().map(|a| a.hash.as_str()) != Some(failing.hash.as_str())
        {
            return;
        }
        let Some(target) = self.rollback_target(&mut st, failing) else {
            tracing::error!(plugin = %id, hash = %failing.hash, "plugin version failed its first calls but there is no earlier version to roll back to: {reason}");
            return;
        };
        tracing::warn!(plugin = %id, from = %failing.hash, to = %target.hash, "rolling back a plugin version that failed its first calls: {reason}");
        let source = self.source_of(&st, id, &target.hash);
        self.swap_in(&mut st, target.clone(), &source, false);
        // The broken version must not become the next rollback target.
        st.previous.remove(id);
        self.set_status(
            &mut st,
            id,
            &failing.hash,
            VersionStatus::RolledBack,
            Some(reason),
        );
        self.pin(id, &target.hash);
        self.metrics.observe_rollback(id);
    }

    fn source_of(&self, st: &VersionState, plugin: &str, hash: &str) -> String {
        st.records
            .get(plugin)
            .and_then(|l| l.iter().find(|r| r.hash == hash))
            .map(|r| r.source.clone())
            .unwrap_or_else(|| "unknown".into())
    }
}

impl super::Runtime {
    /// Keeps every version durably from now on: component bytes under `dir/<id>/<hash>.wasm`,
    /// the index in `store`. Call before loading plugins.
    pub fn keep_versions(
        &self,
        store: Arc<dyn PluginStore>,
        dir: PathBuf,
    ) -> Result<(), StoreError> {
        let records = store.plugin_versions(None)?;
        let mut st = self.inner.versions.lock();
        for r in records {
            st.records.entry(r.plugin.clone()).or_default().push(r);
        }
        let _ = self.inner.versions.persist.set(Persist { store, dir });
        let _ = self.inner.versions.started_ms.set(self.inner.now_ms());
        Ok(())
    }

    /// After start-up loading: a plugin whose version was changed at run time (upload,
    /// plugins directory, activation, rollback) goes back to that version — unless the
    /// configuration brought a component never seen before, which then wins.
    pub fn restore_active_versions(&self) {
        let Some(started) = self.inner.versions.started_ms.get().copied() else {
            return;
        };
        for info in self.plugins() {
            let pinned = match self.inner.services.store.meta_get(&pin_key(&info.id)) {
                Ok(Some(hash)) if !hash.is_empty() && hash != info.hash => hash,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(plugin = %info.id, "cannot read the pinned plugin version: {e}");
                    continue;
                }
            };
            let mut st = self.inner.versions.lock();
            let config_is_new = st
                .records
                .get(&info.id)
                .and_then(|l| l.iter().find(|r| r.hash == info.hash))
                .is_some_and(|r| r.loaded_at_ms >= started);
            if config_is_new {
                drop(st);
                self.inner.pin(&info.id, &info.hash);
                continue;
            }
            let Some(current) = self.inner.plugin(&info.id) else {
                continue;
            };
            let Some(bytes) = self.inner.read_bytes(&st, &info.id, &pinned) else {
                tracing::warn!(plugin = %info.id, hash = %pinned, "the version active before the restart is gone; keeping the configured one");
                continue;
            };
            let mut manifest = current.manifest.clone();
            if let Some(r) = st
                .records
                .get(&info.id)
                .and_then(|l| l.iter().find(|r| r.hash == pinned))
            {
                manifest.version = r.version.clone();
            }
            match self.inner.compile(&manifest, &bytes) {
                Ok(loaded) => {
                    let source = self.inner.source_of(&st, &info.id, &pinned);
                    self.inner
                        .swap_in(&mut st, Arc::new(loaded), &source, false);
                    tracing::info!(plugin = %info.id, hash = %pinned, "restored the plugin version active before the restart");
                }
                Err(e) => {
                    tracing::warn!(plugin = %info.id, hash = %pinned, "the version active before the restart no longer loads: {e}")
                }
            }
        }
    }

    /// Compiles a new version, checks it against the contract and, if it passes, activates it
    /// on probation for its first [`PROBATION_CALLS`] calls. A refused version is recorded with
    /// the reason and changes nothing. `manifest.world` and `limits` should be the plugin's.
    pub fn install(
        &self,
        manifest: Manifest,
        bytes: &[u8],
        source: &str,
    ) -> Result<PluginInfo, VersionError> {
        let id = manifest.id.clone();
        if !is_id(&id) {
            return Err(VersionError::InvalidId { plugin: id });
        }
        let hash = hex::encode(Sha256::digest(bytes));
        if let Some(active) = self.inner.plugin(&id)
            && active.hash == hash
        {
            return Ok(active.info());
        }
        let compiled = self.inner.compile(&manifest, bytes);
        let mut st = self.inner.versions.lock();
        let loaded = match compiled {
            Ok(loaded) => loaded,
            Err(e) => {
                let now = self.inner.now_ms();
                tracing::warn!(plugin = %id, %hash, "refused a new plugin version: {e}");
                self.inner.put_record(
                    &mut st,
                    PluginVersionRecord {
                        plugin: id,
                        hash,
                        version: manifest.version,
                        world: world_id(manifest.world).to_owned(),
                        source: source.to_owned(),
                        loaded_at_ms: now,
                        status: VersionStatus::Refused.as_str().to_owned(),
                        reason: Some(e.to_string()),
                        activated_at_ms: None,
                    },
                );
                return Err(e.into());
            }
        };
        self.inner.keep_bytes(&mut st, &id, &hash, bytes)?;
        let info = self.inner.swap_in(&mut st, Arc::new(loaded), source, true);
        self.inner.pin(&id, &info.hash);
        tracing::info!(plugin = %id, hash = %info.hash, version = %info.version, "activated a new plugin version on probation");
        Ok(info)
    }

    /// Activates a kept version of a plugin, by hash or by version label (the newest with that
    /// label), on probation.
    pub fn activate(&self, plugin: &str, selector: &str) -> Result<PluginInfo, VersionError> {
        let current = self
            .inner
            .plugin(plugin)
            .ok_or_else(|| VersionError::UnknownPlugin {
                plugin: plugin.to_owned(),
            })?;
        let mut st = self.inner.versions.lock();
        let record = st
            .records
            .get(plugin)
            .and_then(|l| {
                l.iter()
                    .rev()
                    .filter(|r| r.status != VersionStatus::Refused.as_str())
                    .find(|r| r.hash == selector || r.version == selector)
            })
            .cloned()
            .ok_or_else(|| VersionError::UnknownVersion {
                plugin: plugin.to_owned(),
                selector: selector.to_owned(),
            })?;
        if record.hash == current.hash {
            return Ok(current.info());
        }
        let loaded = match st.previous.get(plugin) {
            Some(prev) if prev.hash == record.hash => prev.clone(),
            _ => {
                let bytes = self
                    .inner
                    .read_bytes(&st, plugin, &record.hash)
                    .ok_or_else(|| VersionError::UnknownVersion {
                        plugin: plugin.to_owned(),
                        selector: selector.to_owned(),
                    })?;
                let mut manifest = current.manifest.clone();
                manifest.version = record.version.clone();
                Arc::new(self.inner.compile(&manifest, &bytes)?)
            }
        };
        let info = self.inner.swap_in(&mut st, loaded, &record.source, true);
        self.inner.pin(plugin, &info.hash);
        tracing::info!(plugin, hash = %info.hash, "an operator activated a plugin version");
        Ok(info)
    }

    /// Goes back to the version the active one replaced; the active one is marked rolled back
    /// with `reason`.
    pub fn rollback(&self, plugin: &str, reason: &str) -> Result<PluginInfo, VersionError> {
        let current = self
            .inner
            .plugin(plugin)
            .ok_or_else(|| VersionError::UnknownPlugin {
                plugin: plugin.to_owned(),
            })?;
        let mut st = self.inner.versions.lock();
        let target = self
            .inner
            .rollback_target(&mut st, &current)
            .ok_or_else(|| VersionError::NoPrevious {
                plugin: plugin.to_owned(),
            })?;
        let source = self.inner.source_of(&st, plugin, &target.hash);
        current.probation.store(0, Ordering::SeqCst);
        let info = self.inner.swap_in(&mut st, target, &source, false);
        st.previous.remove(plugin);
        self.inner.set_status(
            &mut st,
            plugin,
            &current.hash,
            VersionStatus::RolledBack,
            Some(reason.to_owned()),
        );
        self.inner.pin(plugin, &info.hash);
        tracing::info!(plugin, from = %current.hash, to = %info.hash, "plugin version rolled back: {reason}");
        Ok(info)
    }

    /// Every version of a plugin (or of all), oldest first.
    pub fn versions(&self, plugin: Option<&str>) -> Vec<VersionInfo> {
        let st = self.inner.versions.lock();
        st.records
            .iter()
            .filter(|(id, _)| plugin.is_none_or(|p| p == id.as_str()))
            .flat_map(|(id, list)| {
                let active = self.inner.plugin(id);
                list.iter().map(move |r| {
                    let probation_calls_left = match &active {
                        Some(a) if a.hash == r.hash => a.probation.load(Ordering::SeqCst),
                        _ => 0,
                    };
                    VersionInfo {
                        record: r.clone(),
                        probation_calls_left,
                    }
                })
            })
            .collect()
    }

    /// Whether `hash` is a known version of `plugin` (loaded, kept or refused).
    pub fn knows_version(&self, plugin: &str, hash: &str) -> bool {
        self.inner
            .versions
            .lock()
            .records
            .get(plugin)
            .is_some_and(|l| l.iter().any(|r| r.hash == hash))
    }

    /// The manifest of a loaded plugin.
    pub fn manifest(&self, plugin: &str) -> Option<Manifest> {
        self.inner.plugin(plugin).map(|p| p.manifest.clone())
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Loads a component at start-up: compiles, checks and activates it (no probation: this is
    /// the configured version). Recorded as a version like any other.
    pub(crate) fn load_startup(
        &self,
        manifest: Manifest,
        bytes: &[u8],
    ) -> Result<PluginInfo, LoadError> {
        let loaded = self.inner.compile(&manifest, bytes)?;
        let mut st = self.inner.versions.lock();
        if let Err(e) = self
            .inner
            .keep_bytes(&mut st, &manifest.id, &loaded.hash, bytes)
        {
            tracing::warn!(plugin = %manifest.id, "cannot keep the component file: {e}");
        }
        Ok(self
            .inner
            .swap_in(&mut st, Arc::new(loaded), "startup", false))
    }
}
