//! Signals (issue 11, item 5): what each catchable signal does to a daemon, caught
//! from start-up on, so that none of them leaves state behind.
//!
//! | signal | effect |
//! | --- | --- |
//! | SIGINT, SIGTERM, SIGQUIT | orderly shutdown: everything installed is removed |
//! | SIGHUP | reload the configuration file (`Role::reload`); bindings and keys stay |
//! | SIGUSR1, SIGUSR2 | ignored, with an INFO line (their default would kill the daemon uncleanly) |
//! | SIGPIPE | ignored (Rust's runtime sets it so before `main`): a write to a closed control connection is an error, not a death |
//!
//! SIGKILL and SIGSTOP cannot be caught: after `kill -9` the next start takes over
//! what was left (docs/architecture.md).

use tokio::signal::unix::{signal, Signal, SignalKind};

/// What a caught signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caught {
    /// Stop in order; the signal's name.
    Stop(&'static str),
    /// Reload the configuration (SIGHUP).
    Reload,
    /// Nothing: the signal's name, for the log.
    Ignored(&'static str),
}

/// The signals of the module docs, caught from the moment [`Shutdown::install`]
/// returns (install it before anything a signal's default action would leave behind).
#[derive(Debug)]
pub struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
    quit: Signal,
    hangup: Signal,
    user1: Signal,
    user2: Signal,
}

impl Shutdown {
    /// Catches every signal of the module docs from now on. Needs a tokio runtime
    /// with I/O enabled.
    pub fn install() -> std::io::Result<Shutdown> {
        Ok(Shutdown {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
            hangup: signal(SignalKind::hangup())?,
            user1: signal(SignalKind::user_defined1())?,
            user2: signal(SignalKind::user_defined2())?,
        })
    }

    /// Resolves at the next signal caught since `install`, with what it asks.
    pub async fn next(&mut self) -> Caught {
        tokio::select! {
            _ = self.interrupt.recv() => Caught::Stop("SIGINT"),
            _ = self.terminate.recv() => Caught::Stop("SIGTERM"),
            _ = self.quit.recv() => Caught::Stop("SIGQUIT"),
            _ = self.hangup.recv() => Caught::Reload,
            _ = self.user1.recv() => Caught::Ignored("SIGUSR1"),
            _ = self.user2.recv() => Caught::Ignored("SIGUSR2"),
        }
    }

    /// Resolves at the first signal that stops the daemon; a reload or an ignored
    /// signal before it is logged and passed over (start-up, before the loop runs).
    pub async fn wait(&mut self) -> &'static str {
        loop {
            match self.next().await {
                Caught::Stop(name) => return name,
                Caught::Reload => tracing::info!(
                    signal = "SIGHUP",
                    "not running yet: no configuration to reload"
                ),
                Caught::Ignored(name) => tracing::info!(signal = name, "signal ignored"),
            }
        }
    }
}
