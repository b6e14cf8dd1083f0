//! `mip6-ha`: the Mobile IPv6 home agent daemon. It drives the sans-IO
//! [`mip6_ha::HomeAgent`] over the OS layer of `mip6-netio` on a single-threaded
//! tokio runtime; the daemon contract (command line, status JSON, metrics, capture)
//! is shared with `mip6-mn`.
//!
//! | module | job |
//! | --- | --- |
//! | [`cli`] | command line (clap) |
//! | [`daemon`] | start-up, main loop, shutdown |
//! | [`driver`] | engine calls, persistence before sending, batches |
//! | [`io`] | sockets and TUN on the reactor |
//! | [`routes`] | /128 routes and proxy NDP of bound home addresses |
//! | [`stats`] | counters beside the engine's, key generation ledger |
//! | [`status`] | the status JSON and its text form |
//! | [`metrics`] | Prometheus text |
//! | [`capture`] | `--capture`: pcapng and `esp_sa` key log |
//!
//! Exit status: 0 ok, 1 runtime error, 2 configuration error.
#![forbid(unsafe_code)]

mod capture;
mod cli;
mod daemon;
mod driver;
mod io;
mod metrics;
mod routes;
mod stats;
mod status;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use mip6_ha_daemon::config::{DaemonConfig, LogFormat};

use mip6_daemon::cli::{EXIT_CONFIG, EXIT_RUNTIME};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Status(args)) = cli.command {
        return mip6_daemon::cli::status_command(
            "mip6-ha",
            &args,
            "/run/mip6-ha.sock",
            |path| {
                mip6_ha_daemon::config::load(path)
                    .map(|c| c.control_socket)
                    .map_err(|e| e.to_string())
            },
            status::render_text,
        );
    }
    let cli = cli.run;
    let Some(path) = cli.config else {
        eprintln!("mip6-ha: a configuration file is required: mip6-ha -c FILE (see --help)");
        return ExitCode::from(EXIT_CONFIG);
    };
    let config = match load_checked(&path) {
        Ok(config) => config,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "mip6-ha: {} configuration error{} in {}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                path.display()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if cli.check_config {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    mip6_daemon::logging::init(
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
    let options = daemon::Options {
        seed: cli.seed,
        capture: cli.capture,
        capture_limit: cli.capture_limit,
    };
    match runtime.block_on(daemon::run(config, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ daemon::RunError::Config(_)) => {
            tracing::error!(error = %e, "configuration refused");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            tracing::error!(error = %e, "mip6-ha failed");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Loads and validates the configuration, interfaces included (`if_nametoindex`);
/// every error rendered as `FILE:LINE:COL: field: message`.
fn load_checked(path: &Path) -> Result<DaemonConfig, Vec<String>> {
    let config = mip6_ha_daemon::config::load(path).map_err(|e| vec![e.to_string()])?;
    config
        .validate(&|name| mip6_netio::if_index(name).is_ok())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok(config)
}
