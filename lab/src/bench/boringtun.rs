//! The comparison tunnel: boringtun (userspace WireGuard) between the MN namespace
//! (endpoint at its foreign address) and the HA namespace (endpoint 2001:db8:1::1),
//! inner addresses 2001:db8:ff::2 (MN) and 2001:db8:ff::1 (HA). The HA namespace
//! forwards between the tunnel and the home link; the router routes 2001:db8:ff::/64
//! to the HA, so the CN's replies come back through the tunnel.
//!
//! boringtun-cli makes a TUN interface in the namespace it runs in and listens for
//! `wg` on `/var/run/wireguard/<iface>.sock`; that directory is shared by every
//! namespace, so interface names carry this process's id and a counter.

use std::fs::File;
use std::io::Write;
use std::net::Ipv6Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::BenchError;
use crate::demo::interrupt;
use crate::topology::{Lab, Node, ProcId};
use crate::{CN_ADDR, HA_ADDR};

/// The inner prefix, 2001:db8:ff::/64.
pub const INNER_PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0);
/// The HA end's inner address.
pub const HA_INNER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 1);
/// The MN end's inner address.
pub const MN_INNER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 2);
/// WireGuard's UDP port on both ends.
const LISTEN_PORT: u16 = 51820;
/// Inner MTU: 1500 less WireGuard's 80 octets over IPv6 (as wg-quick sets).
const MTU: u16 = 1420;
/// Where boringtun puts its control sockets.
const SOCKET_DIR: &str = "/var/run/wireguard";
/// How long boringtun gets to make its interface and socket.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the first handshake may take (pings through the tunnel until one answers).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

static TUNNELS: AtomicU32 = AtomicU32::new(0);

/// Finds boringtun-cli: `explicit` if given, else on `PATH`, else
/// `/work/tools/bin/boringtun-cli`. `Err` says why there is none.
pub fn find_boringtun(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_owned())
        } else {
            Err(format!("boringtun-cli not found at {}", p.display()))
        };
    }
    on_path("boringtun-cli")
        .or_else(|| {
            let p = PathBuf::from("/work/tools/bin/boringtun-cli");
            p.is_file().then_some(p)
        })
        .ok_or_else(|| {
            "boringtun-cli not found on PATH nor at /work/tools/bin (or pass --boringtun)".into()
        })
}

/// `program` in a directory of `PATH`.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// A running boringtun tunnel; [`Tunnel::stop`] ends both processes.
#[derive(Debug)]
pub struct Tunnel {
    /// The MN end's interface (in the MN namespace).
    pub mn_iface: String,
    /// The HA end's interface.
    pub ha_iface: String,
    /// boringtun on the MN.
    pub mn_proc: ProcId,
    /// boringtun on the HA.
    pub ha_proc: ProcId,
}

fn setup_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |e| BenchError::Setup(format!("{what}: {e}"))
}

/// Runs `wg ARGS`, feeding `input` on stdin; returns its trimmed stdout.
fn wg(args: &[&str], input: Option<&str>) -> Result<String, BenchError> {
    let mut child = Command::new("wg")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(setup_err(format!(
            "wg {} (apt-get install wireguard-tools)",
            args.join(" ")
        )))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(setup_err("write to wg"))?;
    }
    let out = child.wait_with_output().map_err(setup_err("wait for wg"))?;
    if !out.status.success() {
        return Err(BenchError::Setup(format!(
            "wg {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A key pair: the private key's file (for `wg set ... private-key FILE`) and the
/// public key.
fn key_pair(dir: &Path, name: &str) -> Result<(PathBuf, String), BenchError> {
    let private = wg(&["genkey"], None)?;
    let public = wg(&["pubkey"], Some(&format!("{private}\n")))?;
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, format!("{private}\n"))
        .map_err(setup_err(format!("write {}", path.display())))?;
    Ok((path, public))
}

fn socket_path(iface: &str) -> PathBuf {
    Path::new(SOCKET_DIR).join(format!("{iface}.sock"))
}

/// Spawns boringtun-cli for `iface` in `node`, output to `log`.
fn spawn(
    lab: &mut Lab,
    program: &Path,
    node: Node,
    iface: &str,
    threads: Option<u32>,
    log: &Path,
) -> Result<ProcId, BenchError> {
    let out = File::create(log).map_err(setup_err(format!("create {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(setup_err(format!("open {}", log.display())))?;
    let mut command = lab.command_in(node, program);
    command.args(["--foreground", "--disable-drop-privileges"]);
    if let Some(t) = threads {
        command.args(["--threads", &t.to_string()]);
    }
    command
        .args(["--log", &log.display().to_string()])
        .arg(iface)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    tracing::info!(?command, "starting boringtun");
    Ok(lab.spawn_command(command)?)
}

/// Waits until `iface`'s control socket exists, failing if the process exits.
fn wait_socket(lab: &mut Lab, id: ProcId, iface: &str, log: &Path) -> Result<(), BenchError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let path = socket_path(iface);
    while !path.exists() {
        if lab.is_running(id) != Some(true) || Instant::now() >= deadline {
            let log_text = std::fs::read_to_string(log).unwrap_or_default();
            return Err(BenchError::Setup(format!(
                "boringtun for {iface} did not make {} (log: {})",
                path.display(),
                log_text.trim()
            )));
        }
        interrupt::sleep(Duration::from_millis(50))?;
    }
    Ok(())
}

/// Builds the tunnel in `lab` (the MN already on foreign link 1): keys, both
/// boringtun processes, addresses, routes, forwarding on the HA, and a first
/// handshake (a ping MN inner → CN answered). Files (keys, logs) go to `dir`.
pub fn start(
    lab: &mut Lab,
    program: &Path,
    threads: Option<u32>,
    dir: &Path,
) -> Result<Tunnel, BenchError> {
    let n = TUNNELS.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() % 10_000_000;
    let mn_iface = format!("bt{pid}m{n}");
    let ha_iface = format!("bt{pid}h{n}");
    let (mn_key, mn_pub) = key_pair(dir, &mn_iface)?;
    let (ha_key, ha_pub) = key_pair(dir, &ha_iface)?;
    let mn_log = dir.join(format!("{mn_iface}.log"));
    let ha_log = dir.join(format!("{ha_iface}.log"));
    let mn_proc = spawn(lab, program, Node::Mn, &mn_iface, threads, &mn_log)?;
    let ha_proc = spawn(lab, program, Node::Ha, &ha_iface, threads, &ha_log)?;
    let tunnel = Tunnel {
        mn_iface,
        ha_iface,
        mn_proc,
        ha_proc,
    };
    let ready = wait_socket(lab, ha_proc, &tunnel.ha_iface, &ha_log)
        .and_then(|()| wait_socket(lab, mn_proc, &tunnel.mn_iface, &mn_log))
        .and_then(|()| configure(lab, &tunnel, (&mn_key, &mn_pub), (&ha_key, &ha_pub)));
    match ready {
        Ok(()) => Ok(tunnel),
        Err(e) => {
            tunnel.stop(lab);
            Err(e)
        }
    }
}

/// Keys, addresses, routes and forwarding for a tunnel whose processes are up, then
/// the first handshake.
fn configure(
    lab: &mut Lab,
    tunnel: &Tunnel,
    (mn_key, mn_pub): (&Path, &str),
    (ha_key, ha_pub): (&Path, &str),
) -> Result<(), BenchError> {
    let port = LISTEN_PORT.to_string();
    let (ha_iface, mn_iface) = (tunnel.ha_iface.as_str(), tunnel.mn_iface.as_str());
    let ha_key = ha_key.display().to_string();
    let mn_key = mn_key.display().to_string();
    let mn_allowed = format!("{MN_INNER}/128");
    let ha_endpoint = format!("[{HA_ADDR}]:{LISTEN_PORT}");
    let mtu = MTU.to_string();
    let ha_addr = format!("{HA_INNER}/64");
    let mn_addr = format!("{MN_INNER}/64");
    let inner = format!("{INNER_PREFIX}/64");
    let cn = format!("{CN_ADDR}/128");
    let via_ha = HA_ADDR.to_string();
    let steps: [(Node, Vec<&str>); 9] = [
        (
            Node::Ha,
            vec![
                "wg",
                "set",
                ha_iface,
                "private-key",
                &ha_key,
                "listen-port",
                &port,
                "peer",
                mn_pub,
                "allowed-ips",
                &mn_allowed,
            ],
        ),
        (
            Node::Ha,
            vec![
                "ip", "-6", "addr", "add", &ha_addr, "dev", ha_iface, "nodad",
            ],
        ),
        (
            Node::Ha,
            vec!["ip", "link", "set", "dev", ha_iface, "mtu", &mtu, "up"],
        ),
        (
            Node::Ha,
            vec!["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"],
        ),
        (
            Node::Mn,
            vec![
                "wg",
                "set",
                mn_iface,
                "private-key",
                &mn_key,
                "listen-port",
                &port,
                "peer",
                ha_pub,
                "endpoint",
                &ha_endpoint,
                "allowed-ips",
                "::/0",
            ],
        ),
        (
            Node::Mn,
            vec![
                "ip", "-6", "addr", "add", &mn_addr, "dev", mn_iface, "nodad",
            ],
        ),
        (
            Node::Mn,
            vec!["ip", "link", "set", "dev", mn_iface, "mtu", &mtu, "up"],
        ),
        (
            Node::Mn,
            vec!["ip", "-6", "route", "add", &cn, "dev", mn_iface],
        ),
        (
            Node::Rt,
            vec!["ip", "-6", "route", "add", &inner, "via", &via_ha],
        ),
    ];
    for (node, args) in &steps {
        lab.exec_in_checked(*node, args)?;
    }
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    while !lab.ping(Node::Mn, MN_INNER, CN_ADDR)? {
        if Instant::now() >= deadline {
            return Err(BenchError::Setup(format!(
                "no ping from {MN_INNER} to {CN_ADDR} through boringtun within {HANDSHAKE_TIMEOUT:?}"
            )));
        }
        interrupt::check()?;
    }
    Ok(())
}

impl Tunnel {
    /// Stops both processes and removes their control sockets if they left them.
    pub fn stop(self, lab: &mut Lab) {
        for (id, iface) in [
            (self.mn_proc, &self.mn_iface),
            (self.ha_proc, &self.ha_iface),
        ] {
            if let Err(e) = lab.stop(id) {
                tracing::warn!(%id, error = %e, "stopping boringtun failed");
            }
            let path = socket_path(iface);
            if path.exists() {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_agree() {
        assert!(MN_INNER.segments()[..4] == INNER_PREFIX.segments()[..4]);
        assert!(HA_INNER.segments()[..4] == INNER_PREFIX.segments()[..4]);
    }

    #[test]
    fn explicit_missing_path_is_refused() {
        let e = find_boringtun(Some(Path::new("/nonexistent/boringtun-cli"))).unwrap_err();
        assert!(e.contains("/nonexistent"), "{e}");
        assert!(on_path("sh").is_some());
        assert!(on_path("no-such-program-mip6").is_none());
    }
}
