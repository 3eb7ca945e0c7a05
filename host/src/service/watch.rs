//! The plugins directory: `<plugin-id>.wasm` files dropped there are loaded as new versions
//! through the same path as an upload (compiled, checked, activated on probation). The service
//! polls it every two seconds; a file whose hash is already known (active, kept, rolled back or
//! refused) is left alone. Write a file elsewhere and rename it into the directory, so a
//! half-copied component is never seen.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::manifest::Manifest;
use crate::service::Service;

/// How often the directory is looked at.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// What one scan did with one file.
#[derive(Debug, Clone, Serialize)]
pub struct DirLoad {
    /// The plugin id (the file stem).
    pub plugin: String,
    /// SHA-256 of the file.
    pub hash: String,
    /// `Ok(())` when activated, else why not.
    pub outcome: Result<(), String>,
}

/// Looks at the plugins directory once and loads every new version found there.
pub fn scan_plugins_dir(service: &Service) -> Vec<DirLoad> {
    let Some(dir) = service.config.service.plugins_dir.as_deref() else {
        return Vec::new();
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "cannot read the plugins directory: {e}");
            return Vec::new();
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| load_file(service, path))
        .collect()
}

fn load_file(service: &Service, path: &Path) -> Option<DirLoad> {
    let id = path.file_stem()?.to_str()?.to_owned();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot read a plugin file: {e}");
            return None;
        }
    };
    let hash = hex::encode(Sha256::digest(&bytes));
    if service.runtime.knows_version(&id, &hash) {
        return None;
    }
    let current = service.runtime.manifest(&id);
    let world = current
        .as_ref()
        .map(|m| m.world)
        .or_else(|| service.config.plugins.get(&id).and_then(|p| p.world));
    let Some(world) = world else {
        tracing::warn!(file = %path.display(), plugin = %id, "ignoring a plugin file: the plugin is not loaded and [plugins.{id}] names no world");
        return None;
    };
    let manifest = Manifest {
        id: id.clone(),
        version: path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("plugins-dir")
            .to_owned(),
        world,
        limits: current.map(|m| m.limits).unwrap_or_default(),
    };
    let outcome = service
        .runtime
        .install(manifest, &bytes, "plugins-dir")
        .map(|info| {
            tracing::info!(plugin = %info.id, hash = %info.hash, file = %path.display(), "loaded a new version from the plugins directory");
        })
        .map_err(|e| e.to_string());
    Some(DirLoad {
        plugin: id,
        hash,
        outcome,
    })
}

/// Polls the plugins directory (if configured) until the service shuts down.
pub async fn watch_plugins_dir(service: Arc<Service>) {
    let Some(dir) = service.config.service.plugins_dir.clone() else {
        return;
    };
    // Create it up front: an operator drops files into it later, and a missing directory would
    // otherwise warn on every poll.
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), "cannot create the plugins directory; not watching it: {e}");
        return;
    }
    let shutdown = service.shutdown_token();
    loop {
        let s = service.clone();
        // Reading, hashing and compiling are blocking work.
        if let Err(e) = tokio::task::spawn_blocking(move || scan_plugins_dir(&s)).await {
            tracing::error!("plugins directory scan failed: {e}");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}
