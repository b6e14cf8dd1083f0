//! Running `mip6-ha` and `mip6-mn` in the lab: spawn (in their own process group, with
//! stdout and stderr piped), copy every log line to a file in the output directory
//! and, prefixed, to the demo's stderr, keep the last lines for error messages, notice
//! the "ready" line (daemon contract: tracing info with `event="ready"`), and stop
//! them with SIGTERM so they remove what they installed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::interrupt;
use super::DemoError;
use crate::topology::{Lab, Node, ProcId};

/// Lines of each daemon's log kept for error messages.
const TAIL_LINES: usize = 20;
/// How long a daemon gets to exit after SIGTERM before the lab kills it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A daemon the demo started.
#[derive(Debug)]
pub struct Daemon {
    /// `ha`, `ha-2`, `mn`: log prefix and file names.
    pub name: String,
    /// The lab's handle.
    pub id: ProcId,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its capture file, if it writes one.
    pub capture: Option<PathBuf>,
    ready: Arc<AtomicBool>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct DaemonSpec<'a> {
    /// `ha`, `mn`, or a numbered restart such as `ha-2`.
    pub name: &'a str,
    /// The namespace.
    pub node: Node,
    /// The program.
    pub program: &'a Path,
    /// `-c` argument.
    pub config: &'a Path,
    /// `--capture` argument; `None` runs the daemon without a capture (the goodput
    /// bench: a capture costs a write per packet).
    pub capture: Option<PathBuf>,
    /// The control socket named in the config.
    pub socket: &'a Path,
    /// The log file.
    pub log: PathBuf,
    /// `--seed`, if any.
    pub seed: Option<u64>,
    /// Copy log lines to the demo's stderr.
    pub echo: bool,
}

/// Removes ANSI colour sequences (`ESC [ ... letter`) from a log line.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.clone().next() == Some('[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a log line is the daemon's "ready" line, in text (`event="ready"` or a
/// message `ready`) or JSON (`"event":"ready"`) form.
pub fn is_ready_line(line: &str) -> bool {
    let line = strip_ansi(line);
    line.contains("event=\"ready\"")
        || line.contains("event=ready")
        || line.contains("\"event\":\"ready\"")
        || line
            .split_whitespace()
            .any(|w| w == "ready" || w == "ready:")
}

impl Daemon {
    /// Spawns the daemon described by `spec` in the lab.
    pub fn spawn(lab: &mut Lab, spec: &DaemonSpec<'_>) -> Result<Daemon, DemoError> {
        let mut command: Command = lab.command_in(spec.node, spec.program);
        command
            .arg("-c")
            .arg(spec.config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(capture) = &spec.capture {
            command.arg("--capture").arg(capture);
        }
        if let Some(seed) = spec.seed {
            command.arg("--seed").arg(seed.to_string());
        }
        tracing::info!(daemon = spec.name, command = ?command, "starting");
        let id = lab.spawn_command(command)?;
        let log = File::create(&spec.log).map_err(|source| DemoError::Io {
            what: format!("create {}", spec.log.display()),
            source,
        })?;
        let log = Arc::new(Mutex::new(log));
        let ready = Arc::new(AtomicBool::new(false));
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            lab.take_stdout(id)
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            lab.take_stderr(id)
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        for stream in streams.into_iter().flatten() {
            let (name, log, ready, tail, echo) = (
                spec.name.to_owned(),
                Arc::clone(&log),
                Arc::clone(&ready),
                Arc::clone(&tail),
                spec.echo,
            );
            thread::spawn(move || pump(stream, &name, &log, &ready, &tail, echo));
        }
        Ok(Daemon {
            name: spec.name.to_owned(),
            id,
            socket: spec.socket.to_owned(),
            capture: spec.capture.clone(),
            ready,
            tail,
        })
    }

    /// Whether its "ready" line was seen.
    pub fn saw_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The last log lines, oldest first.
    pub fn tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Waits until the daemon logged "ready" or its control socket answers as a
    /// serving daemon (the standby of a home agent pair answers too, as standby: not
    /// ready); fails if it exits or `timeout` passes.
    pub fn wait_ready(&self, lab: &mut Lab, timeout: Duration) -> Result<(), DemoError> {
        let deadline = Instant::now() + timeout;
        let serving = |s: serde_json::Value| s["pair"]["state"] != "standby";
        loop {
            if self.saw_ready() || super::status::request(&self.socket, "status").is_ok_and(serving)
            {
                tracing::info!(daemon = %self.name, "ready");
                return Ok(());
            }
            self.check_running(lab)?;
            if Instant::now() >= deadline {
                return Err(DemoError::Daemon {
                    name: self.name.clone(),
                    what: format!("not ready within {timeout:?}"),
                    tail: self.tail(),
                });
            }
            interrupt::sleep(Duration::from_millis(50))?;
        }
    }

    /// Fails if the daemon has exited.
    pub fn check_running(&self, lab: &mut Lab) -> Result<(), DemoError> {
        if lab.is_running(self.id) == Some(true) {
            return Ok(());
        }
        // Let the pumps drain the last lines before quoting them.
        thread::sleep(Duration::from_millis(100));
        Err(DemoError::Daemon {
            name: self.name.clone(),
            what: "exited".into(),
            tail: self.tail(),
        })
    }

    /// SIGTERM, up to `STOP_GRACE` to exit (it removes its routes, rules and socket),
    /// then the lab's stop (SIGKILL if still running) and reap.
    pub fn stop(self, lab: &mut Lab) {
        if lab.is_running(self.id) == Some(true) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.id.pid().to_string()])
                .status();
            let deadline = Instant::now() + STOP_GRACE;
            while lab.is_running(self.id) == Some(true) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        match lab.stop(self.id) {
            Ok(status) => tracing::info!(daemon = %self.name, %status, "stopped"),
            Err(e) => tracing::warn!(daemon = %self.name, error = %e, "stop failed"),
        }
    }

    /// `kill -9`: no cleanup by the daemon (its state on disk is what survives).
    pub fn kill_hard(self, lab: &mut Lab) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.id.pid().to_string()])
            .status();
        match lab.stop(self.id) {
            Ok(status) => tracing::info!(daemon = %self.name, %status, "killed with SIGKILL"),
            Err(e) => tracing::warn!(daemon = %self.name, error = %e, "reaping failed"),
        }
    }
}

fn pump(
    stream: Box<dyn Read + Send>,
    name: &str,
    log: &Mutex<File>,
    ready: &AtomicBool,
    tail: &Mutex<VecDeque<String>>,
    echo: bool,
) {
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        if let Ok(mut f) = log.lock() {
            let _ = writeln!(f, "{line}");
        }
        if is_ready_line(&line) {
            ready.store(true, Ordering::SeqCst);
        }
        let clean = strip_ansi(&line);
        if echo {
            eprintln!("[{name}] {clean}");
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(clean);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines_in_text_and_json() {
        assert!(is_ready_line(
            "2025-01-01T00:00:00Z  INFO mip6_ha: ready event=\"ready\" address=2001:db8:1::1"
        ));
        assert!(is_ready_line(
            "\u{1b}[2m2025\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m mip6_mn: \u{1b}[3mevent\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"ready\""
        ));
        assert!(is_ready_line(
            r#"{"level":"INFO","fields":{"message":"up","event":"ready"}}"#
        ));
        assert!(!is_ready_line("INFO mip6_mn: already registered"));
        assert!(!is_ready_line("INFO mip6_mn: not-ready yet"));
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\u{1b}[1;32mok\u{1b}[0m done"), "ok done");
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi("\u{1b}"), "");
    }
}
