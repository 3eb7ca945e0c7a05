//! `mlc:connect/log`, and guest stdout/stderr: both become `tracing` events tagged with the
//! plugin and the tenant. A plugin cannot write to the host's own stdout.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::runtime::bindings::log::{Host, Level};

/// Longest message kept; longer ones are cut so a plugin cannot flood the logs.
const MAX_MESSAGE: usize = 8 * 1024;

fn clip(message: &str) -> &str {
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// Who is logging: the plugin and its tenant, attached to every event.
pub struct LogCtx {
    plugin: Arc<str>,
    tenant: Arc<str>,
}

impl LogCtx {
    /// Events of `plugin` in `tenant`.
    pub fn new(tenant: &str, plugin: &str) -> Self {
        LogCtx {
            plugin: plugin.into(),
            tenant: tenant.into(),
        }
    }

    /// The guest's stdout (`"stdout"`) or stderr (`"stderr"`), as events of the same plugin.
    pub fn output(&self, stream: &'static str) -> GuestOutput {
        GuestOutput {
            plugin: self.plugin.clone(),
            tenant: self.tenant.clone(),
            stream,
            pending: Arc::default(),
        }
    }
}

impl Host for LogCtx {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let (plugin, tenant) = (&*self.plugin, &*self.tenant);
        let message = clip(&message);
        match level {
            Level::Trace => tracing::trace!(target: "plugin", %plugin, %tenant, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", %plugin, %tenant, "{message}"),
            Level::Info => tracing::info!(target: "plugin", %plugin, %tenant, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", %plugin, %tenant, "{message}"),
            Level::Error => tracing::error!(target: "plugin", %plugin, %tenant, "{message}"),
        }
        Ok(())
    }
}

/// A guest's stdout or stderr: complete lines become `tracing` events ([`LogCtx::output`]).
#[derive(Clone)]
pub struct GuestOutput {
    plugin: Arc<str>,
    tenant: Arc<str>,
    stream: &'static str,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl GuestOutput {
    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = clip(text.trim_end());
        if !text.is_empty() {
            tracing::info!(target: "plugin", plugin = %self.plugin, tenant = %self.tenant, stream = self.stream, "{text}");
        }
    }

    fn write(&self, buf: &[u8]) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.extend_from_slice(buf);
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            self.emit(&line);
        }
        if pending.len() > MAX_MESSAGE {
            let line = std::mem::take(&mut *pending);
            self.emit(&line);
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let line = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        self.emit(&line);
        Poll::Ready(Ok(()))
    }
}
