//! etcd in the lab: Debian's `etcd-server` (3.4), one member (or a cluster of three,
//! to test member loss) started by the lab in the router's namespace, listening on the
//! router's home-link address, stopped and its data directories removed with the lab. The home agents of a pair
//! ([`Lab::add_home_agent_pair`]) keep their shared state and their leader key in it
//! (issue 13, item 5).
//!
//! The member runs with a 10 ms heartbeat and a 100 ms election timeout (etcd's
//! defaults are 100 ms and 1 s, for members across a data centre; here they share one
//! host), `--pre-vote` (a restarted member does not depose a working leader), and
//! `--unsafe-no-fsync` off: every write the home agents wait for is on disk.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::error::LabError;
use crate::topology::{home_router_addr, Lab, Node, ProcId};

/// The first member's client port; member `i` listens on `CLIENT_PORT + 100 × i`.
pub const CLIENT_PORT: u16 = 2379;
/// The first member's peer port; member `i` on `PEER_PORT + 100 × i`.
pub const PEER_PORT: u16 = 2380;
/// How long a member may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The lab's etcd cluster: its members (processes) and data directory.
#[derive(Debug)]
pub struct Etcd {
    members: Vec<Option<ProcId>>,
    dir: PathBuf,
}

impl Etcd {
    /// What member `index` logged so far.
    pub fn log(&self, index: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("m{index}.log"))).unwrap_or_default()
    }

    /// How many members the cluster has.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Member `index`'s process, if it runs.
    pub fn member(&self, index: usize) -> Option<ProcId> {
        self.members.get(index).copied().flatten()
    }

    /// The client URLs of every member, the home agents' `etcd` list.
    pub fn client_urls(&self) -> Vec<String> {
        (0..self.members.len()).map(client_url).collect()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn port(base: u16, index: usize) -> u16 {
    base + 100 * u16::try_from(index).unwrap_or(0)
}

/// Member `index`'s client URL, e.g. `http://[2001:db8:1::fe]:2379`.
pub fn client_url(index: usize) -> String {
    format!(
        "http://[{}]:{}",
        home_router_addr(),
        port(CLIENT_PORT, index)
    )
}

fn peer_url(index: usize) -> String {
    format!("http://[{}]:{}", home_router_addr(), port(PEER_PORT, index))
}

/// Every member's client port (what a partition from etcd drops).
pub fn client_ports(members: usize) -> Vec<u16> {
    (0..members).map(|i| port(CLIENT_PORT, i)).collect()
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

/// Starts a cluster of `members` members in the router's namespace and waits until
/// each listens ([`Lab::start_etcd`], [`Lab::start_etcd_cluster`]).
pub fn start(lab: &mut Lab, members: usize) -> Result<Etcd, LabError> {
    let dir = std::env::temp_dir().join(format!("{}etcd", lab.prefix()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| LabError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    let mut etcd = Etcd {
        members: vec![None; members],
        dir,
    };
    for index in 0..members {
        etcd.members[index] = Some(spawn_member(lab, &etcd, index)?);
    }
    for index in 0..members {
        wait_listening(lab, &etcd, index)?;
    }
    Ok(etcd)
}

/// `kill -9` of member `index` (its data stays).
pub fn kill_member(lab: &mut Lab, etcd: &mut Etcd, index: usize) -> Result<(), LabError> {
    if let Some(id) = etcd.members.get_mut(index).and_then(Option::take) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &id.pid().to_string()])
            .status();
        lab.stop(id)?;
    }
    Ok(())
}

/// Starts member `index` again on its data directory and waits until it listens.
pub fn restart_member(lab: &mut Lab, etcd: &mut Etcd, index: usize) -> Result<(), LabError> {
    if etcd.member(index).is_none() {
        let id = spawn_member(lab, etcd, index)?;
        etcd.members[index] = Some(id);
        wait_listening(lab, etcd, index)?;
    }
    Ok(())
}

fn spawn_member(lab: &mut Lab, etcd: &Etcd, index: usize) -> Result<ProcId, LabError> {
    let program = program().ok_or(LabError::Missing {
        what: "etcd (Debian package etcd-server)",
    })?;
    let log_path = etcd.dir.join(format!("m{index}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| LabError::Io {
            what: format!("creating {}", log_path.display()),
            source,
        })?;
    let cluster = (0..etcd.members.len())
        .map(|i| format!("m{i}={}", peer_url(i)))
        .collect::<Vec<_>>()
        .join(",");
    let client = client_url(index);
    let peer = peer_url(index);
    let mut command = lab.command_in(Node::Rt, &program);
    command
        .args(["--name", &format!("m{index}"), "--data-dir"])
        .arg(etcd.dir.join(format!("m{index}")))
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &cluster])
        .args(["--initial-cluster-token", lab.prefix()])
        .args(["--heartbeat-interval", "10", "--election-timeout", "100"])
        // A member started again must not force an election with a higher term (it
        // asks first): etcd 3.5's default, off in 3.4.
        .arg("--pre-vote")
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    lab.spawn_command(command)
}

fn wait_listening(lab: &mut Lab, etcd: &Etcd, index: usize) -> Result<(), LabError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let port = format!(":{} ", port(CLIENT_PORT, index));
    loop {
        let out = lab.exec_in(Node::Rt, &["ss", "-Hltn"])?;
        if String::from_utf8_lossy(&out.stdout).contains(&port) {
            return Ok(());
        }
        let running = etcd.member(index).and_then(|id| lab.is_running(id));
        if Instant::now() > deadline || running == Some(false) {
            return Err(LabError::Missing {
                what: "a listening etcd member (it did not start: see its log in the lab's etcd directory)",
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
