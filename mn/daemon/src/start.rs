//! Start-up and run of `mip6-mn -c FILE`.
//!
//! Start-up, in order: the signals caught ([`mip6_daemon::signals`]); a live control socket of another daemon refused; the state store
//! (`<state_dir>/mip6-mn.redb`; whole records with `restore = "resume-keys"`, the
//! durable minimum otherwise) and its record; movement detection (subscribe to address
//! events, then dump what is there, so no change is lost) and the first care-of
//! address; the sockets and the TUN with the home address; router discovery's socket
//! (`router_discovery = true`: the kernel's `accept_ra` off on the watched interfaces,
//! one Router Solicitation on each, [`crate::router_link`]); the mark on the raw
//! socket, the policy rules, the reverse-tunnel route and the nft guard
//! ([`crate::host`]); the capture; the engine;
//! the first Binding Update if there is a care-of address. Started on the home link,
//! the node has no reverse-tunnel route, deregisters if its record says it may have a
//! binding, and otherwise takes its home address onto the link at once (RFC 6275
//! §11.5.4). Then the shell
//! ([`mip6_daemon::shell`]) serves the control socket and the metrics, drops every
//! privilege but `CAP_NET_ADMIN` and `CAP_NET_RAW` ([`mip6_daemon::privileges`]; not
//! with `--keep-privileges`), logs `ready`, and runs until a signal, then removes
//! everything it installed.
//!
//! Loud at start: a configuration file readable by group or others (it holds the init
//! secret), and a store without this node's record ([`report_restored`]). A damaged
//! store file stops the start with an error that names it (exit 1).

use std::path::Path;

use mip6_daemon::capture::EngineCapture;
use mip6_daemon::rng::DaemonRng;
use mip6_daemon::shell::{Capture, Io, IoConfig, KeyMaterial, Shell};
use mip6_daemon::signals::Shutdown;
use mip6_daemon::{clock, RunError, StartOptions};
use mip6_mn::{MnConfig, MobileNode, RestorePolicy};
use mip6_netio::addr_watch::AddrWatch;
use mip6_netio::TunConfig;

use crate::config::DaemonConfig;
use crate::host::{own_packet_mark, Host, HostConfig};
use crate::movement::{Attachment, CoaTracker, HomePrefix};
use crate::role::MobileNodeRole;
use crate::router_link::RouterLink;
use crate::status::Identity;
use crate::store::{self, Persistence};
use crate::Aead;

/// Runs the daemon until SIGINT, SIGTERM or SIGQUIT; SIGHUP reloads the configuration.
pub async fn run(
    (config, engine): (DaemonConfig, MnConfig),
    options: StartOptions,
) -> Result<(), RunError> {
    // Signals first: a SIGTERM during start-up must not kill us past our guards.
    let shutdown = Shutdown::install().map_err(RunError::runtime("signal handlers"))?;
    // The file holds init_secret.
    if let Some(file) = &config.origin {
        mip6_daemon::config::warn_if_secret_readable(file);
    }
    let hoa = engine.home_address;
    let ha = engine.home_agent;

    // Another daemon answering on our control socket is another mobile node of this
    // host configured with the same path: refuse before touching anything of its.
    let control_socket = config.control_socket();
    mip6_daemon::control::refuse_if_live(&control_socket).map_err(RunError::Config)?;
    let state_dir = config.state_dir();
    std::fs::create_dir_all(&state_dir).map_err(RunError::runtime(format!(
        "state directory {}",
        state_dir.display()
    )))?;
    let mode = match engine.restore {
        RestorePolicy::Reinitialize => Persistence::DurableMinimum,
        RestorePolicy::ResumeKeys => Persistence::Full,
    };
    let store =
        store::open(&state_dir, mode).map_err(RunError::runtime("opening the state store"))?;
    let restored = store::load(&store)
        .await
        .map_err(RunError::runtime("reading the state store"))?;
    report_restored(
        store.backend().path(),
        store.backend().created(),
        restored.is_some(),
    );

    // Movement detection: subscribe, then read what is there (no change is lost).
    let watch = AddrWatch::open().map_err(RunError::runtime("address watcher"))?;
    let mut watched = Vec::new();
    for iface in config.interfaces.get_ref() {
        let name = iface.get_ref();
        watched.push(
            mip6_netio::if_index(name).map_err(RunError::runtime(format!("interface {name}")))?,
        );
    }
    let mut tracker = CoaTracker::new(
        watched,
        HomePrefix {
            home_address: hoa,
            len: config.home_prefix_len(),
        },
    );
    for event in watch
        .dump()
        .await
        .map_err(RunError::runtime("address dump"))?
    {
        tracker.apply(&event);
    }
    let initial = tracker.attachment();
    let initial_coa = initial.care_of();

    let io = Io::open(&IoConfig {
        packet_sockets: vec![None],
        local: initial_coa.unwrap_or(hoa),
        source: initial_coa,
        tun: TunConfig {
            name: config.tun_name(),
            mtu: config.tun_mtu(),
            addresses: vec![(hoa, 128)],
            offload: config.tun_offload,
        },
        home_link: None,
        udp: config.udp_encapsulation(),
    })
    .map_err(RunError::runtime("set-up"))?;
    let host_config = HostConfig {
        home_address: hoa,
        tun_name: config.tun_name(),
        route_table: config.route_table(),
        rule_priority: config.rule_priority,
        home_prefix_len: config.home_prefix_len(),
    };
    // The outer packets (raw ESP, or ESP in UDP) must not follow the host's traffic
    // into the tunnel: marked before the rules that would send them there exist.
    io.sender
        .get_ref()
        .set_mark(own_packet_mark(&host_config))
        .map_err(RunError::runtime("SO_MARK on the raw socket"))?;
    if let Some((udp, _)) = &io.udp {
        udp.get_ref()
            .set_mark(own_packet_mark(&host_config))
            .map_err(RunError::runtime("SO_MARK on the ESP-in-UDP socket"))?;
    }
    let host = Host::install(&host_config, io.tun.get_ref().ifindex(), initial_coa)
        .await
        .map_err(RunError::runtime("set-up"))?;
    let mut host = host;
    let watched_interfaces =
        MobileNodeRole::watched_interfaces(&config).map_err(RunError::Config)?;
    if config.router_discovery {
        let names: Vec<String> = watched_interfaces.iter().map(|(_, n)| n.clone()).collect();
        host.disable_kernel_autoconf(&names, state_dir.join("host-settings"))
            .map_err(RunError::runtime("set-up"))?;
    }
    if let Attachment::Home { .. } = initial {
        host.arrive_home()
            .await
            .map_err(RunError::runtime("set-up at home"))?;
    }

    if options.seed.is_some() {
        tracing::warn!("--seed: the RNG is predictable; for tests and replay only");
    }
    let mut rng = DaemonRng::new(options.seed);
    // The capture's `start` record carries the `now` the engine is built with, so a
    // replay builds it the same way (`restart` when a stored record was given too).
    let now = clock::now();
    let capture = match &options.capture {
        Some(path) => {
            let mut pcap = EngineCapture::create(path, hoa)
                .map_err(RunError::runtime(format!("capture {}", path.display())))?;
            pcap.set_limit(options.capture_limit);
            if let Some(record) = &restored {
                // A replay of this run needs the record it started from.
                pcap.write_start_state(&store::encode_record(record))
                    .map_err(RunError::runtime(format!(
                        "capture state {}",
                        path.display()
                    )))?;
            }
            pcap.start(now, restored.is_some());
            let mut capture = Capture::new(pcap);
            capture.add_keys([KeyMaterial {
                home_agent: ha,
                home_address: hoa,
                secret: engine.init_secret.clone(),
                spis: engine.init_spis,
                suite: engine.suite,
            }]);
            Some(capture)
        }
        None => None,
    };
    let node = MobileNode::<Aead>::with_cipher(engine, &mut rng, now, restored);
    let mut role = MobileNodeRole::new(
        node,
        Identity {
            home_address: hoa,
            home_agent: ha,
        },
        host,
        watch,
        tracker,
        config.clone(),
    );
    if let Attachment::Home { ifindex } = initial {
        role.start_at_home(ifindex).await;
    }
    if config.router_discovery {
        let (link, actions) =
            RouterLink::open(&watched_interfaces).map_err(|e| RunError::Runtime {
                what: "router discovery".into(),
                source: e.into(),
            })?;
        role.enable_router_discovery(link, actions).await;
    }
    let mut shell = Shell::new(role, io, store, capture, now, config.tun_mtu());
    shell.set_drop_privileges(!options.keep_privileges);
    if initial != Attachment::Detached {
        shell
            .move_to(initial_coa)
            .await
            .map_err(RunError::runtime("first Binding Update"))?;
    }
    shell
        .run(shutdown, &control_socket, config.metrics())
        .await
        .map_err(RunError::runtime("event loop"))
}

/// Logs a WARN naming the file when the store holds no record of this node: a first
/// start looks like that, but so does a store that was deleted or lost. The record
/// holds the node's sequence marks; without it the node starts from its init key and
/// the home agent re-initializes its keys.
pub fn report_restored(path: &Path, created: bool, restored: bool) {
    if restored {
        return;
    }
    let found = if created {
        "no state store file was found, a new one was created"
    } else {
        "the state store file holds no record"
    };
    tracing::warn!(
        store = %path.display(),
        restored_records = 0,
        "{found}: starting with no key or sequence mark. A first start looks like this \
         too; otherwise the store was deleted or lost: this node registers with its init \
         key and the home agent re-initializes its keys; AES-GCM nonces stay unique"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_record_is_a_warning_naming_the_file() {
        let path = Path::new("/var/lib/mip6-mn/mip6-mn.redb");
        let (_, log) = mip6_daemon::logging::capture(|| report_restored(path, true, false));
        assert!(log.contains(" WARN "), "{log}");
        assert!(log.contains("/var/lib/mip6-mn/mip6-mn.redb"), "{log}");
        assert!(
            log.contains("no state store file") && log.contains("first start"),
            "{log}"
        );
        assert!(
            log.contains("re-initializes") && log.contains("nonces stay unique"),
            "{log}"
        );
        let (_, log) = mip6_daemon::logging::capture(|| report_restored(path, false, false));
        assert!(
            log.contains(" WARN ") && log.contains("holds no record"),
            "{log}"
        );
        let (_, log) = mip6_daemon::logging::capture(|| report_restored(path, false, true));
        assert!(log.is_empty(), "{log}");
    }
}
