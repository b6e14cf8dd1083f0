//! Start-up, the main loop and shutdown of `mip6-ha -c FILE`.
//!
//! Start-up, in order: the state store (`<state_dir>/mip6-ha.redb`, whole records
//! with `persistence = true`, the durable minimum otherwise) and its records; the
//! engine; the capture; the nftables table that keeps the kernel from answering
//! HoA-option and RH2 packets with ICMPv6 errors; forwarding on and proxy NDP on the
//! home link (`proxy_delay` 0); the TUN; leftover proxy entries of a killed run
//! removed; the sockets; the control socket and the metrics endpoint; the routes of
//! bindings restored from the store. Then the event `ready` is logged.
//!
//! Everything installed is held by a guard that undoes it on drop ([`NftGuard`],
//! [`mip6_netio::routes::NetConfig`], the control socket's server, the TUN), so an
//! error path cleans up too; an orderly shutdown (SIGINT, SIGTERM) undoes it
//! explicitly and reports failures. A `kill -9` leaves state behind, which the next
//! start takes over: the nft table and routes are replaced, a stale control socket
//! is replaced, stale proxy entries are removed.

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use mip6_daemon::rng::DaemonRng;
use mip6_daemon::{clock, control, metrics, signals};
use mip6_ha::HomeAgent;
use mip6_ha_daemon::config::DaemonConfig;
use mip6_ha_daemon::store::{Persistence, StateStore};
use mip6_netio::nft::NftGuard;
use mip6_netio::routes::NetConfig;
use mip6_netio::TunConfig;
use tokio::time::Instant;

use crate::capture::Capture;
use crate::driver::Driver;
use crate::io::Io;
use crate::routes::Routes;
use crate::stats::Stats;

/// Name of the nftables table: `inet mip6_ha`.
pub const NFT_NAME: &str = "ha";

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--seed N`.
    pub seed: Option<u64>,
    /// `--capture FILE`.
    pub capture: Option<PathBuf>,
    /// `--capture-limit INPUTS`.
    pub capture_limit: u64,
}

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot run (exit 2).
    #[error("{0}")]
    Config(String),
    /// Set-up or the loop failed (exit 1).
    #[error("{what}: {source}")]
    Runtime {
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn fail<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> RunError {
    let what = what.into();
    move |e| RunError::Runtime {
        what,
        source: Box::new(e),
    }
}

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn run(config: DaemonConfig, options: Options) -> Result<(), RunError> {
    // Signals first: a SIGTERM during start-up must not kill us past our guards.
    let shutdown = signals::shutdown();
    tokio::pin!(shutdown);
    tokio::select! {
        biased;
        signal = &mut shutdown => {
            tracing::info!(signal = ?signal.ok(), "stopped during start-up");
            return Ok(());
        }
        () = std::future::ready(()) => {}
    }

    let mut engine_config = config.to_engine().map_err(|errors| {
        RunError::Config(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    // Every reserved block is one fsync'd store write in the loop: with the engine's
    // 1024 a 1 Gbit/s stream would sync about 90 times a second. A crash skips at most
    // one block of a 2^32 sequence space (rekeyed 2^20 before its end).
    engine_config.sequence_block = mip6_daemon::SEQUENCE_BLOCK;
    let address = *config.address.get_ref();
    let home_interface = config.home_interface.get_ref().clone();
    let home_addresses: Vec<Ipv6Addr> = engine_config
        .mobile_nodes
        .iter()
        .map(|mn| mn.home_address)
        .collect();

    // The store and the engine.
    std::fs::create_dir_all(&config.state_dir).map_err(fail(format!(
        "state directory {}",
        config.state_dir.display()
    )))?;
    let mode = if config.persistence {
        Persistence::Full
    } else {
        Persistence::DurableMinimum
    };
    let store = StateStore::open(&config.state_dir, mode).map_err(fail("state store"))?;
    let records = store.load_all().map_err(fail("state store"))?;
    let restored = records.len();
    if options.seed.is_some() {
        tracing::warn!("--seed: the RNG is predictable; for tests and replay only");
    }
    let rng = DaemonRng::new(options.seed);
    let now = clock::now();
    // A capture keeps the records the engine starts from beside it, so a replay can
    // start where this run started (`<capture>.state`).
    let start_records = options.capture.as_ref().map(|_| records.clone());
    let engine = HomeAgent::new(engine_config.clone(), rng, now, records)
        .map_err(|e| RunError::Config(e.to_string()))?;
    let stats = Stats::new(&engine_config, now);
    let capture = match &options.capture {
        Some(path) => {
            let mut capture = Capture::create(path, &engine_config)
                .map_err(fail(format!("capture {}", path.display())))?;
            // A replay builds its engine at this same `now`, from the same records:
            // `restart` marks a start from stored state, whose records are written to
            // `<capture>.state` (mode 0600; with persistence on they hold keys, like
            // the capture's key log).
            capture.pcap.set_limit(options.capture_limit);
            capture.pcap.start(now, restored > 0);
            if let Some(records) = start_records.filter(|r| !r.is_empty()) {
                let encoded: Vec<u8> = records
                    .iter()
                    .flat_map(mip6_ha_daemon::store::encode_record)
                    .collect();
                capture
                    .pcap
                    .write_start_state(&encoded)
                    .map_err(fail(format!("capture state {}", path.display())))?;
            }
            Some(capture)
        }
        None => None,
    };

    // The kernel side.
    let nft = NftGuard::install(NFT_NAME, &[address]).map_err(fail("nftables"))?;
    let mut net = NetConfig::new().map_err(fail("netlink"))?;
    net.set_forwarding(true).map_err(fail("forwarding"))?;
    net.prepare_proxy_link(&home_interface)
        .map_err(fail(format!("proxy NDP on {home_interface}")))?;
    let tun_config = TunConfig {
        name: config.tun_name().to_owned(),
        mtu: config.tun_mtu(),
        addresses: Vec::new(),
        offload: config.tun_offload,
    };
    let io = Io::open(config.all_interfaces(), address, &tun_config).map_err(fail("I/O"))?;
    let home_ifindex = mip6_netio::if_index(&home_interface).map_err(fail("home interface"))?;
    let mut routes = Routes::new(net, io.tun.get_ref().ifindex(), home_ifindex);
    routes.clear_leftovers(home_addresses.iter().copied()).await;
    let mut driver = Driver::new(
        engine,
        store,
        capture,
        stats,
        routes,
        address,
        config.persistence,
        config.tun_mtu(),
    );
    driver.prefetch = home_addresses.len() >= crate::driver::PREFETCH_FROM_MNS;
    // Routes of the bindings restored from the store.
    driver.settle(now).await.map_err(fail("restoring"))?;

    // Control and metrics.
    let (control_server, mut control_rx) = control::serve(&config.control_socket).map_err(fail(
        format!("control socket {}", config.control_socket.display()),
    ))?;
    let (metrics_server, mut metrics_rx) = match &config.metrics {
        Some(addr) => {
            let (server, rx) = metrics::serve(*addr.get_ref())
                .await
                .map_err(fail(format!("metrics endpoint {}", addr.get_ref())))?;
            (Some(server), Some(rx))
        }
        None => (None, None),
    };

    tracing::info!(
        event = "ready",
        address = %address,
        home_interface = %home_interface,
        tun = %tun_config.name,
        mobile_nodes = home_addresses.len(),
        restored_records = restored,
        persistence = config.persistence,
        control_socket = %config.control_socket.display(),
        metrics = ?metrics_server.as_ref().map(|m| m.local_addr()),
        "ready"
    );

    let result = loop {
        let deadline = driver.engine.poll_timeout().map(|at| {
            let wait = at.saturating_since(clock::now());
            Instant::now() + wait.min(Duration::from_secs(3600))
        });
        let step = tokio::select! {
            signal = &mut shutdown => {
                tracing::info!(signal = ?signal.ok(), "shutting down");
                break Ok(());
            }
            index = io.signalling_readable() => driver.on_signalling(&io, index).await,
            _ = io.esp.readable() => driver.on_esp(&io).await,
            _ = io.tun.readable() => driver.on_tun(&io).await,
            () = sleep_until(deadline) => driver.on_timeout(&io).await,
            Some(request) = control_rx.recv() => {
                let answer = match request.command.as_str() {
                    "status" => driver.status(),
                    other => serde_json::json!({ "error": format!("unknown command {other:?}") }),
                };
                let _ = request.reply.send(answer);
                Ok(())
            }
            Some(request) = recv_metrics(&mut metrics_rx) => {
                let _ = request.reply.send(driver.metrics());
                Ok(())
            }
        };
        if let Err(e) = step {
            break Err(fail("event loop")(e));
        }
    };

    // Orderly teardown, newest first; each guard would do the same on drop.
    drop(metrics_server);
    drop(control_server);
    let (routes, capture) = driver.into_parts();
    if let Some(mut c) = capture {
        c.pcap.flush();
    }
    if let Err(e) = routes.cleanup().await {
        tracing::warn!(error = %e, "removing routes, proxy entries or sysctls failed");
    }
    if let Err(e) = nft.remove() {
        tracing::warn!(error = %e, "removing the nftables table failed");
    }
    drop(io);
    tracing::info!("stopped");
    result
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn recv_metrics(
    rx: &mut Option<tokio::sync::mpsc::Receiver<metrics::MetricsRequest>>,
) -> Option<metrics::MetricsRequest> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
