//! Loaded plugins: the checked, pre-instantiated handle of each active plugin version.

use serde::Serialize;
use wasmtime::component::{Component, Linker};

use super::bindings::{CarrierConnectorPre, ErpConnectorPre, SyncFlowPre};
use super::state::HostState;
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
    })
}
