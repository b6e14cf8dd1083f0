//! Ctrl-C (SIGINT) and SIGTERM for the demo: a thread with a one-thread tokio runtime
//! waits for either and raises a flag; the demo's waits ([`sleep`]) check the flag and
//! return [`Interrupted`], so the demo unwinds through its orderly teardown (daemons
//! stopped first so they remove their own rules, then the lab's namespaces).
//!
//! The demo spawns the daemons and traffic processes in their own process groups, so
//! a Ctrl-C at the terminal reaches the demo only and the teardown order holds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How often [`sleep`] looks at the flag.
const POLL: Duration = Duration::from_millis(20);

/// The demo was interrupted by SIGINT or SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by a signal")]
pub struct Interrupted;

/// Installs the handlers; returns once they are in place. From then on SIGINT and
/// SIGTERM no longer end the process: they set the flag.
pub fn install() -> std::io::Result<()> {
    let (ready_tx, ready_rx) = mpsc::channel();
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (mut int, mut term) = match (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) {
                    (Ok(i), Ok(t)) => (i, t),
                    (Err(e), _) | (_, Err(e)) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                loop {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    if INTERRUPTED.swap(true, Ordering::SeqCst) {
                        tracing::warn!("signal again: teardown is already under way");
                    } else {
                        tracing::warn!("signal received: stopping and cleaning up");
                    }
                }
            });
        })?;
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("signal thread ended early")))
}

/// Whether a signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails if a signal arrived.
pub fn check() -> Result<(), Interrupted> {
    if interrupted() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// Sleeps for `d`, or less if a signal arrives.
pub fn sleep(d: Duration) -> Result<(), Interrupted> {
    sleep_until(Instant::now() + d)
}

/// Sleeps until `deadline`, or less if a signal arrives.
pub fn sleep_until(deadline: Instant) -> Result<(), Interrupted> {
    loop {
        check()?;
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        thread::sleep((deadline - now).min(POLL));
    }
}
