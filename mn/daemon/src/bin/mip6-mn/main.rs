//! `mip6-mn`: the Mobile IPv6 mobile node daemon (RFC 6275 §11). It drives the sans-IO
//! [`mip6_mn::MobileNode`] over the OS layer of `mip6-netio` on a current-thread tokio
//! runtime: a TUN carrying the home address, BAs from a BPF-filtered packet socket,
//! tunnel frames from a raw ESP socket, every frame out through `IPPROTO_RAW`, movement
//! detection from rtnetlink address events.
//!
//! | module | what |
//! | --- | --- |
//! | [`cli`] | the command line |
//! | [`setup`] | TUN, rule and route, nft guard, sockets; their removal |
//! | [`driver`] | the event loop and the engine's driver contract |
//! | [`movement`] | which address is the care-of address |
//! | [`stats`] | what the driver counts |
//! | [`status`] | status JSON, its text form, Prometheus text |
//! | [`keylog`] | `esp_sa` records for the capture's key log |
//!
//! Exit status: 0 after SIGINT/SIGTERM (everything installed removed) or `--check-config`
//! success, 2 on a configuration error, 1 on a runtime error.

#![forbid(unsafe_code)]

mod cli;
mod driver;
mod keylog;
mod movement;
mod setup;
mod stats;
mod status;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use mip6_daemon::capture::EngineCapture;
use mip6_daemon::rng::DaemonRng;
use mip6_daemon::{clock, control, logging, metrics};
use mip6_mn::{MnConfig, MobileNode, RestorePolicy};
use mip6_mn_daemon::config::{DaemonConfig, LogFormat};
use mip6_mn_daemon::store::{Persistence, StateStore};
use mip6_netio::addr_watch::AddrWatch;

use mip6_daemon::cli::{RunArgs, EXIT_CONFIG, EXIT_RUNTIME};

use crate::cli::{Cli, Command};
use crate::driver::Driver;
use crate::movement::CoaTracker;
use crate::setup::{Host, HostConfig};
use crate::stats::Stats;
use crate::status::Identity;

/// The control socket's path when neither `--socket` nor `-c` says.
const DEFAULT_SOCKET: &str = "/run/mip6-mn.sock";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Status(args)) => mip6_daemon::cli::status_command(
            "mip6-mn",
            &args,
            DEFAULT_SOCKET,
            |path| {
                mip6_mn_daemon::config::load(path)
                    .map(|c| c.control_socket)
                    .map_err(|e| e.to_string())
            },
            status::render_text,
        ),
        None => daemon(cli.run),
    }
}

/// Loads and validates the configuration (interfaces must exist here), printing every
/// error as `FILE:LINE:COL: field: message`.
fn load_config(path: &Path) -> Result<(DaemonConfig, MnConfig), ExitCode> {
    let config = mip6_mn_daemon::config::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })?;
    let print_all = |errors: Vec<mip6_mn_daemon::config::ConfigError>| {
        for e in errors {
            eprintln!("{e}");
        }
        ExitCode::from(EXIT_CONFIG)
    };
    config
        .validate(&|name| mip6_netio::if_index(name).is_ok())
        .map_err(print_all)?;
    let mut engine = config.to_engine().map_err(print_all)?;
    // One fsync'd store write per reserved block: see mip6_daemon::SEQUENCE_BLOCK.
    engine.sequence_block = mip6_daemon::SEQUENCE_BLOCK;
    Ok((config, engine))
}

fn daemon(cli: RunArgs) -> ExitCode {
    let Some(path) = cli.config.as_deref() else {
        eprintln!("mip6-mn: a configuration file is needed: mip6-mn -c FILE (see --help)");
        return ExitCode::from(EXIT_CONFIG);
    };
    let (config, engine) = match load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if cli.check_config {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    logging::init(
        config.log.format == LogFormat::Json,
        config.log.level.to_tracing(),
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the tokio runtime");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(run(&cli, &config, engine)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "mip6-mn stopped");
            eprintln!("mip6-mn: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Set-up, the loop, and the orderly removal of everything installed.
async fn run(cli: &RunArgs, config: &DaemonConfig, engine: MnConfig) -> Result<(), String> {
    let hoa = engine.home_address;
    let ha = engine.home_agent;

    std::fs::create_dir_all(&config.state_dir)
        .map_err(|e| format!("state directory {}: {e}", config.state_dir.display()))?;
    let persistence = match engine.restore {
        RestorePolicy::Reinitialize => Persistence::DurableMinimum,
        RestorePolicy::ResumeKeys => Persistence::Full,
    };
    let store = StateStore::open(&config.state_dir, persistence)
        .map_err(|e| format!("state store in {}: {e}", config.state_dir.display()))?;
    let restored = store.load().map_err(|e| format!("state store: {e}"))?;

    // Movement detection: subscribe, then read what is there (no change is lost).
    let mut watch = AddrWatch::open().map_err(|e| format!("address watcher: {e}"))?;
    let mut watched = Vec::new();
    for iface in config.interfaces.get_ref() {
        let name = iface.get_ref();
        watched.push(mip6_netio::if_index(name).map_err(|e| format!("interface {name}: {e}"))?);
    }
    let mut tracker = CoaTracker::new(watched);
    for event in watch
        .dump()
        .await
        .map_err(|e| format!("address dump: {e}"))?
    {
        tracker.apply(&event);
    }
    let initial_coa = tracker.current();

    let mut host = Host::open(
        HostConfig {
            home_address: hoa,
            tun_name: config.tun_name().to_owned(),
            tun_offload: config.tun_offload,
            route_table: config.route_table(),
            rule_priority: config.rule_priority,
        },
        initial_coa,
    )
    .await
    .map_err(|e| format!("set-up: {e}"))?;

    let mut capture = match &cli.capture {
        Some(path) => {
            let mut c = EngineCapture::create(path, hoa)
                .map_err(|e| format!("capture {}: {e}", path.display()))?;
            c.set_limit(cli.capture_limit);
            c.add_sas(keylog::generation_records(
                hoa,
                ha,
                &engine.init_secret,
                engine.init_spis,
                engine.suite,
            ));
            Some(c)
        }
        None => None,
    };
    let (control_server, mut control_rx) = control::serve(&config.control_socket)
        .map_err(|e| format!("control socket {}: {e}", config.control_socket.display()))?;
    let (metrics_server, mut metrics_rx) = match config.metrics() {
        Some(addr) => {
            let (server, rx) = metrics::serve(addr)
                .await
                .map_err(|e| format!("metrics endpoint {addr}: {e}"))?;
            (Some(server), Some(rx))
        }
        None => (None, None),
    };

    let id = Identity {
        home_address: hoa,
        home_agent: ha,
        init_spis: engine.init_spis,
    };
    let mut rng = DaemonRng::new(cli.seed);
    // The capture's `start` record carries the `now` the engine is built with, so a
    // replay builds it the same way (`restart` when stored records were given too).
    let now = clock::now();
    let from_stored_state = restored.is_some();
    if let (Some(c), Some(record)) = (&capture, &restored) {
        // A replay of this run needs the record it started from (`<capture>.state`).
        c.write_start_state(&mip6_mn_daemon::store::encode_record(record))
            .map_err(|e| e.to_string())?;
    }
    let node = MobileNode::new(engine, &mut rng, now, restored);
    if let Some(c) = &mut capture {
        c.start(now, from_stored_state);
    }
    let mut driver = Driver::new(node, store, capture, Stats::new(now), id, tracker);
    if initial_coa.is_some() {
        driver
            .set_care_of(&mut host, initial_coa)
            .map_err(|e| e.to_string())?;
    }
    tracing::info!(
        event = "ready",
        home_address = %hoa,
        home_agent = %ha,
        care_of_address = ?initial_coa,
        tun = config.tun_name(),
        control_socket = %config.control_socket.display(),
        metrics = ?metrics_server.as_ref().map(|m| m.local_addr()),
        "ready"
    );

    let outcome = driver
        .run(&mut host, &mut watch, &mut control_rx, &mut metrics_rx)
        .await;
    match &outcome {
        Ok(signal) => tracing::info!(signal, "stopping: removing rule, route, nft table, TUN"),
        Err(e) => tracing::error!(error = %e, "stopping after a fatal error"),
    }
    drop(driver);
    drop(metrics_server);
    drop(control_server);
    let cleanup = host.shutdown().await;
    if let Err(e) = &cleanup {
        tracing::error!(error = %e, "cleanup incomplete");
    }
    outcome.map_err(|e| e.to_string())?;
    cleanup.map_err(|e| format!("cleanup incomplete: {e}"))
}
