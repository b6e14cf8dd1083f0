//! Orderly shutdown: a daemon stops on SIGINT or SIGTERM and removes what it installed.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves at the first SIGINT or SIGTERM. Needs a tokio runtime with I/O enabled.
pub async fn shutdown() -> std::io::Result<&'static str> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = int.recv() => Ok("SIGINT"),
        _ = term.recv() => Ok("SIGTERM"),
    }
}
