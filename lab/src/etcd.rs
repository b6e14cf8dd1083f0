//! etcd in the lab: Debian's `etcd-server` (3.4), one member started by the lab in the
//! router's namespace, listening on the router's home-link address, stopped and its
//! data directory removed with the lab. The home agents of a pair
//! ([`Lab::add_home_agent_pair`]) keep their shared state and their leader key in it
//! (issue 13, item 5).
//!
//! The member runs with a 10 ms heartbeat and a 100 ms election timeout (etcd's
//! defaults are 100 ms and 1 s, for members across a data centre; here they share one
//! host), and `--unsafe-no-fsync` off: every write the home agents wait for is on disk.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::error::LabError;
use crate::topology::{home_router_addr, Lab, Node, ProcId};

/// etcd's client port.
pub const CLIENT_PORT: u16 = 2379;
/// etcd's peer port.
pub const PEER_PORT: u16 = 2380;
/// How long etcd may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The lab's etcd member (its process and data directory).
#[derive(Debug)]
pub struct Etcd {
    /// The process.
    pub proc: ProcId,
    dir: PathBuf,
}

impl Etcd {
    /// What etcd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The client URL the home agents use: `http://[2001:db8:1::fe]:2379`.
pub fn client_url() -> String {
    format!("http://[{}]:{CLIENT_PORT}", home_router_addr())
}

/// Where etcd is: `$PATH`, or Debian's /usr/bin.
pub fn program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("etcd");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let debian = PathBuf::from("/usr/bin/etcd");
    debian.is_file().then_some(debian)
}

/// Starts the member in the router's namespace and waits until it listens
/// ([`Lab::start_etcd`]).
pub fn start(lab: &mut Lab) -> Result<Etcd, LabError> {
    let program = program().ok_or(LabError::Missing {
        what: "etcd (Debian package etcd-server)",
    })?;
    let dir = std::env::temp_dir().join(format!("{}etcd", lab.prefix()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| LabError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    let log = std::fs::File::create(dir.join("etcd.log")).map_err(|source| LabError::Io {
        what: format!("creating {}", dir.join("etcd.log").display()),
        source,
    })?;
    let client = client_url();
    let peer = format!("http://[{}]:{PEER_PORT}", home_router_addr());
    let mut command = lab.command_in(Node::Rt, &program);
    command
        .args(["--name", "lab", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("lab={peer}")])
        .args(["--heartbeat-interval", "10", "--election-timeout", "100"])
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let proc = lab.spawn_command(command)?;
    let etcd = Etcd { proc, dir };
    let deadline = Instant::now() + START_TIMEOUT;
    let port = format!(":{CLIENT_PORT}");
    loop {
        let out = lab.exec_in(Node::Rt, &["ss", "-Hltn"])?;
        if String::from_utf8_lossy(&out.stdout).contains(&port) {
            return Ok(etcd);
        }
        if Instant::now() > deadline || lab.is_running(etcd.proc) == Some(false) {
            return Err(LabError::Missing {
                what:
                    "a listening etcd (it did not start: see its log in the lab's etcd directory)",
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
