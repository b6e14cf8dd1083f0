//! Start-up and run of `mip6-ha -c FILE`.
//!
//! Start-up, in order: the signals caught ([`mip6_daemon::signals`]); a live control socket of another daemon refused; the state store
//! (`<state_dir>/mip6-ha.redb`, whole records with `persistence = true`, the durable
//! minimum otherwise) and its records; the engine; the capture; the nftables table
//! that keeps the kernel from answering HoA-option and RH2 packets with ICMPv6 errors;
//! forwarding on; the home link's Ethernet and link-local addresses, for the engine's
//! proxy Neighbor Discovery and Duplicate Address Detection; the sockets (one of them
//! for the home link's Neighbor Discovery) and the TUN; kernel proxy entries an earlier
//! version left removed; the routes of bindings restored from the store. Then the shell ([`mip6_daemon::shell`]) serves the control
//! socket and the metrics, drops every privilege but `CAP_NET_ADMIN` and `CAP_NET_RAW`
//! ([`mip6_daemon::privileges`]; not with `--keep-privileges`), logs `ready`, and runs
//! until a signal.
//!
//! Loud at start: a configuration file readable by group or others (it holds the init
//! secrets), and a store with no record for any mobile node ([`report_restored`]). A
//! damaged store file stops the start with an error that names it (exit 1).
//!
//! Everything installed is held by a guard that undoes it on drop ([`NftGuard`],
//! [`NetConfig`], the control socket's server, the TUN), so an error path cleans up
//! too; an orderly shutdown undoes it explicitly and reports failures. A `kill -9`
//! leaves state behind, which the next start takes over: the nft table and routes are
//! replaced, a stale control socket is replaced, stale proxy entries are removed.

use std::net::Ipv6Addr;
use std::path::Path;

use mip6_daemon::capture::EngineCapture;
use mip6_daemon::rng::DaemonRng;
use mip6_daemon::shell::{Capture, Io, IoConfig, KeyMaterial, Shell};
use mip6_daemon::signals::Shutdown;
use mip6_daemon::store::{RecordStore, Store};
use mip6_daemon::{clock, StartOptions};
use mip6_ha::HomeAgent;
use mip6_netio::nft::NftGuard;
use mip6_netio::routes::NetConfig;
use mip6_netio::TunConfig;

use crate::config::DaemonConfig;
use crate::pair;
use crate::provision;
use crate::role::{HomeAgentRole, HomeAgentSetup};
use crate::routes::Routes;
use crate::store::{self, Persistence};
use crate::Aead;

/// The file in the state directory that keeps the sysctls' values from before the
/// first start, until a clean stop has restored them.
pub const SYSCTL_JOURNAL: &str = "host-settings";
/// Name of the nftables table: `inet mip6_ha`.
pub const NFT_NAME: &str = "ha";

pub use mip6_daemon::RunError;

/// Runs the daemon until SIGINT, SIGTERM or SIGQUIT; SIGHUP reloads the configuration.
pub async fn run(config: DaemonConfig, options: StartOptions) -> Result<(), RunError> {
    // Signals first: a SIGTERM during start-up must not kill us past our guards.
    let shutdown = Shutdown::install().map_err(RunError::runtime("signal handlers"))?;
    // Every [[mobile_node]] holds an init_secret.
    if let Some(file) = &config.origin {
        mip6_daemon::config::warn_if_secret_readable(file);
    }

    // A second home agent configured with the same control socket: refuse before
    // touching the nft table and routes of the running one.
    mip6_daemon::control::refuse_if_live(&config.control_socket).map_err(RunError::Config)?;
    let home_interface = config.home_interface.get_ref().clone();
    let mut engine_config = config.to_engine().map_err(|errors| {
        RunError::Config(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    // What a SIGHUP compares of the file's entries (before the provisioned join them).
    let file_nodes = crate::reload::FileNodes::of(&engine_config.mobile_nodes);
    // Every reserved block is one fsync'd store write in the loop.
    engine_config.sequence_block = mip6_daemon::SEQUENCE_BLOCK;
    let address = *config.address.get_ref();
    engine_config.home_link = Some(home_link(&home_interface, address, config.dad_transmits)?);
    std::fs::create_dir_all(&config.state_dir).map_err(RunError::runtime(format!(
        "state directory {}",
        config.state_dir.display()
    )))?;
    let Some(pair) = config.pair.as_ref().map(|p| p.get_ref().clone()) else {
        // Alone: the embedded store.
        let mode = if config.persistence {
            Persistence::Full
        } else {
            Persistence::DurableMinimum
        };
        let store = store::open(&config.state_dir, mode)
            .map_err(RunError::runtime("opening the state store"))?;
        let (path, created) = (store.backend().path().to_owned(), store.backend().created());
        let report = move |restored, nodes| report_restored(&path, created, restored, nodes);
        return serve(
            config,
            options,
            shutdown,
            (engine_config, file_nodes),
            store,
            report,
            None,
        )
        .await;
    };
    // One of a pair: standby until this one holds the leader key, then the shared
    // store in etcd, every write fenced by that key.
    let nonce = rand_core::RngCore::next_u64(&mut DaemonRng::new(None));
    let mut candidate = pair::Candidate::connect(&pair, nonce)
        .await
        .map_err(RunError::runtime("connecting to etcd"))?;
    tracing::info!(name = %pair.name, etcd = ?pair.etcd, "standby: one of a home agent pair");
    let prefix_len = config.home_prefix.get_ref().len;
    drop_leftover_address(&home_interface, address, prefix_len).await?;
    let mut shutdown = shutdown;
    let standby = pair::StandbyControl::bind(&config.control_socket, address);
    let Some(leadership) = candidate.wait_for_leadership(&mut shutdown, standby).await else {
        return Ok(());
    };
    let store = mip6_daemon::store::Store::new(candidate.store(&leadership), Persistence::Full);
    let report = move |restored, nodes| {
        tracing::info!(
            restored_records = restored,
            mobile_nodes = nodes,
            "taking over the pair's records from etcd"
        );
    };
    serve(
        config,
        options,
        shutdown,
        (engine_config, file_nodes),
        store,
        report,
        Some(leadership),
    )
    .await
}

/// A standby holds no home agent address: one found on the home interface was left
/// by an active home agent of this host that was killed (`kill -9`: its kernel keeps
/// the address and would answer Neighbor Solicitations for it, RFC 4861 §7.2.4, beside
/// the active home agent that holds it now). Removed before waiting.
async fn drop_leftover_address(
    home_interface: &str,
    address: Ipv6Addr,
    prefix_len: u8,
) -> Result<(), RunError> {
    let ifindex =
        mip6_netio::if_index(home_interface).map_err(RunError::runtime("home interface"))?;
    let configured = mip6_netio::addr_watch::AddrWatch::open()
        .map_err(RunError::runtime("netlink"))?
        .dump()
        .await
        .map_err(RunError::runtime("reading the home interface's addresses"))?;
    if !configured
        .iter()
        .any(|a| a.ifindex == ifindex && a.address == address)
    {
        return Ok(());
    }
    let mut net = NetConfig::new().map_err(RunError::runtime("netlink"))?;
    net.remove_address(ifindex, address, prefix_len)
        .await
        .map_err(RunError::runtime("removing a leftover home agent address"))?;
    tracing::warn!(%address, interface = home_interface, "standby: removed the home agent's address left on the home interface (an active home agent of this host was killed)");
    Ok(())
}

/// Start-up from the store on: the records, the engine, the kernel side, the shell;
/// for the active home agent of a pair also the home agent's address on the home
/// link and the advertisements that take the link over ([`pair`]).
async fn serve<S: RecordStore>(
    config: DaemonConfig,
    options: StartOptions,
    shutdown: Shutdown,
    (mut engine_config, file_nodes): (mip6_ha::HaConfig, crate::reload::FileNodes),
    store: Store<S, store::HaRecords>,
    report: impl FnOnce(usize, usize),
    leadership: Option<pair::Leadership>,
) -> Result<(), RunError> {
    let home_interface = config.home_interface.get_ref().clone();
    let address = *config.address.get_ref();
    // The mobile nodes provisioned at run time in the store.
    let provisioned = add_provisioned(
        &mut engine_config.mobile_nodes,
        &store
            .load_rows(provision::KEY_PREFIX)
            .await
            .map_err(RunError::runtime("reading the state store"))?,
    )
    .map_err(RunError::runtime("reading the state store"))?;
    if engine_config.mobile_nodes.is_empty() {
        tracing::warn!("no mobile node in the configuration file or provisioned: add them with `mip6-ha mn add` or `mip6-ha mn import FILE`");
    }
    let home_addresses: Vec<Ipv6Addr> = engine_config
        .mobile_nodes
        .iter()
        .map(|mn| mn.home_address)
        .collect();
    let init_keys: Vec<KeyMaterial> = engine_config
        .mobile_nodes
        .iter()
        .map(|mn| KeyMaterial {
            home_agent: address,
            home_address: mn.home_address,
            secret: mn.init_secret.clone(),
            spis: mn.init_spis,
            suite: mn.init_suite,
        })
        .collect();
    let records = store
        .load_all()
        .await
        .map_err(RunError::runtime("reading the state store"))?;
    let restored = records.len();
    report(restored, home_addresses.len());
    if options.seed.is_some() {
        tracing::warn!("--seed: the RNG is predictable; for tests and replay only");
    }
    let rng = DaemonRng::new(options.seed);
    let now = clock::now();
    // A capture keeps the records the engine starts from beside it (`<capture>.state`),
    // so a replay can start where this run started.
    let start_state: Vec<u8> = records.iter().flat_map(store::encode_record).collect();
    let mut engine = HomeAgent::<_, Aead>::with_cipher(engine_config, rng, now, records)
        .map_err(|e| RunError::Config(e.to_string()))?;
    let capture = match &options.capture {
        Some(path) => {
            let mut pcap = EngineCapture::create(path, address)
                .map_err(RunError::runtime(format!("capture {}", path.display())))?;
            pcap.set_limit(options.capture_limit);
            pcap.start(now, restored > 0);
            if restored > 0 {
                pcap.write_start_state(&start_state)
                    .map_err(RunError::runtime(format!(
                        "capture state {}",
                        path.display()
                    )))?;
            }
            let mut capture = Capture::new(pcap);
            capture.add_keys(init_keys);
            Some(capture)
        }
        None => None,
    };

    // The kernel side.
    let nft = NftGuard::install_home_agent(NFT_NAME, &[address])
        .map_err(RunError::runtime("nftables"))?;
    let mut net = NetConfig::new().map_err(RunError::runtime("netlink"))?;
    // What the host had before the first start survives a kill -9 (netio's journal).
    net.set_sysctl_journal(config.state_dir.join(SYSCTL_JOURNAL));
    net.set_forwarding(true)
        .map_err(RunError::runtime("forwarding"))?;
    if leadership.is_some() {
        // The active home agent of a pair holds the address (the sockets bind to it).
        let ifindex =
            mip6_netio::if_index(&home_interface).map_err(RunError::runtime("home interface"))?;
        let prefix_len = config.home_prefix.get_ref().len;
        net.add_address_nodad(ifindex, address, prefix_len)
            .await
            .map_err(RunError::runtime("taking the home agent's address"))?;
        let announced = engine.announce_home_link();
        // Restored generations take no data until a fresh one: ask every node now.
        let asked = engine.request_refresh_restored(now);
        tracing::info!(%address, announced, refresh_requested = asked, "took the home agent's address and announced it and the bound home addresses on the home link");
    }
    let tun = TunConfig {
        name: config.tun_name().to_owned(),
        mtu: config.tun_mtu(),
        addresses: Vec::new(),
        offload: config.tun_offload,
    };
    let io = Io::open(&IoConfig {
        packet_sockets: config
            .all_interfaces()
            .map(|i| Some(i.to_owned()))
            .collect(),
        local: address,
        // Every frame leaves from the HA's address: bound, the kernel skips source
        // address selection per packet.
        source: Some(address),
        tun: tun.clone(),
        home_link: Some(home_interface.clone()),
        udp: config.udp_encapsulation(),
    })
    .map_err(RunError::runtime("I/O"))?;
    let home_ifindex =
        mip6_netio::if_index(&home_interface).map_err(RunError::runtime("home interface"))?;
    let mut routes = Routes::new(net, io.tun.get_ref().ifindex(), home_ifindex);
    routes.clear_leftovers(home_addresses.iter().copied()).await;
    // The role keeps the one copy of the configuration (SIGHUP compares the file
    // with it), without the file's text: at 100 000 nodes each copy is tens of MB.
    let control_socket = config.control_socket.clone();
    let metrics = config.metrics.as_ref().map(|m| *m.get_ref());
    let tun_mtu = config.tun_mtu();
    let persistence = config.persistence;
    let mut config = config;
    config.forget_source_text();
    let role = HomeAgentRole::new(
        engine,
        HomeAgentSetup {
            address,
            home_interface,
            tun_name: tun.name,
            persistence,
            restored_records: restored,
            home_addresses,
            provisioned,
            config,
            file_nodes,
        },
        routes,
        nft,
    );
    let role = match leadership {
        Some(l) => role.with_leadership(l),
        None => role,
    };
    let mut shell = Shell::new(role, io, store, capture, now, tun_mtu);
    shell.set_drop_privileges(!options.keep_privileges);
    // Routes of the bindings restored from the store.
    shell
        .settle(now)
        .await
        .map_err(RunError::runtime("restoring"))?;
    shell
        .run(shutdown, &control_socket, metrics)
        .await
        .map_err(RunError::runtime("event loop"))
}

/// The engine's view of the home link: the interface's Ethernet address and its
/// link-local address, the source of proxy advertisements (RFC 4861 §7.2.4 allows any
/// address of the interface: the home agent's own `address` if the interface has no
/// link-local address).
fn home_link(
    home_interface: &str,
    address: Ipv6Addr,
    dad_transmits: u8,
) -> Result<mip6_ha::HomeLink, RunError> {
    let mac = mip6_netio::interface::hardware_address(home_interface).map_err(
        RunError::runtime(format!("home interface {home_interface}")),
    )?;
    let link_local = mip6_netio::interface::link_local_address(home_interface)
        .map_err(RunError::runtime(format!("home interface {home_interface}")))?
        .unwrap_or_else(|| {
            tracing::warn!(interface = home_interface, %address, "the home interface has no link-local address: proxy advertisements come from the home agent's address");
            address
        });
    Ok(mip6_ha::HomeLink {
        dad_transmits,
        ..mip6_ha::HomeLink::new(mac, link_local)
    })
}

/// Appends the provisioned nodes of `rows` ([`provision`]) to the file's `nodes`;
/// their home addresses. One whose home address or an init SPI the file's nodes use
/// is left out with a WARN (the file wins: it was edited after the node was added).
pub fn add_provisioned(
    nodes: &mut Vec<mip6_ha::MnConfig>,
    rows: &[mip6_daemon::store::Row],
) -> Result<std::collections::BTreeSet<Ipv6Addr>, mip6_daemon::store::DecodeError> {
    let mut provisioned = std::collections::BTreeSet::new();
    let file = nodes.len();
    for row in rows {
        let mn = provision::decode_row(row)?;
        let clash = nodes[..file].iter().find(|f| {
            f.home_address == mn.home_address
                || [f.init_spis.mn_to_ha, f.init_spis.ha_to_mn]
                    .iter()
                    .any(|s| *s == mn.init_spis.mn_to_ha || *s == mn.init_spis.ha_to_mn)
        });
        if let Some(f) = clash {
            tracing::warn!(
                provisioned = %mn.home_address,
                file = %f.home_address,
                "a provisioned mobile node clashes with the configuration file's (home address or init SPI): not served; remove one of them"
            );
            continue;
        }
        provisioned.insert(mn.home_address);
        nodes.push(mn);
    }
    if !provisioned.is_empty() {
        tracing::info!(
            provisioned = provisioned.len(),
            "mobile nodes provisioned at run time restored from the store"
        );
    }
    Ok(provisioned)
}

/// Logs what the store gave back. No record at all while mobile nodes are configured
/// is a WARN naming the file: a first start looks like that, but so does a store that
/// was deleted or lost, after which every mobile node must re-initialize. Fewer records
/// than mobile nodes is INFO (the others never registered, or are new).
pub fn report_restored(path: &Path, created: bool, restored: usize, mobile_nodes: usize) {
    if restored == 0 && mobile_nodes > 0 {
        let found = if created {
            "no state store file was found, a new one was created"
        } else {
            "the state store file holds no record"
        };
        tracing::warn!(
            store = %path.display(),
            mobile_nodes,
            restored_records = 0,
            "{found}: starting with no binding, key or sequence mark for any of the \
             {mobile_nodes} configured mobile node(s). A first start looks like this too; \
             otherwise the store was deleted or lost: each mobile node re-initializes its \
             keys with its next Binding Update, and AES-GCM nonces stay unique"
        );
    } else if restored < mobile_nodes {
        tracing::info!(
            store = %path.display(),
            mobile_nodes,
            restored_records = restored,
            "records restored for some mobile nodes; the others start from their init keys"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_missing_store_is_a_warning_naming_the_file() {
        let path = Path::new("/var/lib/mip6-ha/mip6-ha.redb");
        let (_, log) = mip6_daemon::logging::capture(|| report_restored(path, true, 0, 2));
        assert!(log.contains(" WARN "), "{log}");
        assert!(log.contains("/var/lib/mip6-ha/mip6-ha.redb"), "{log}");
        assert!(log.contains("no state store file"), "{log}");
        assert!(log.contains("first start"), "{log}");
        assert!(log.contains("re-initializes"), "{log}");
        assert!(log.contains("nonces stay unique"), "{log}");
        let (_, log) = mip6_daemon::logging::capture(|| report_restored(path, false, 0, 1));
        assert!(
            log.contains(" WARN ") && log.contains("holds no record"),
            "{log}"
        );
        // Some records: no warning; all of them: nothing at all.
        let (_, log) = mip6_daemon::logging::capture(|| report_restored(path, false, 1, 2));
        assert!(!log.contains(" WARN ") && log.contains(" INFO "), "{log}");
        let (_, log) = mip6_daemon::logging::capture(|| report_restored(path, false, 2, 2));
        assert!(log.is_empty(), "{log}");
    }
}
