//! `mip6-ha`: the Mobile IPv6 home agent daemon (RFC 6275 §10). It runs the sans-IO
//! [`mip6_ha::HomeAgent`] in the daemon shell of `mip6-daemon` on a current-thread
//! tokio runtime ([`mip6_ha_daemon::start`]); the command line, status JSON, metrics
//! and capture are the shell's, shared with `mip6-mn`.
//!
//! `mip6-ha mn list|show|add|import|remove` manages the mobile nodes of a running
//! daemon ([`mn_cli`]).
//!
//! Exit status: 0 ok, 1 runtime error, 2 configuration error.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use mip6_daemon::config::LogFormat;
use mip6_daemon::launch::{self, Daemon};
use mip6_ha_daemon::config::{self, DaemonConfig};
use mip6_ha_daemon::{start, status};

mod mn_cli;

fn main() -> ExitCode {
    // `mip6-ha mn ...`: the home agent's own commands (the shared command line has
    // `status` only).
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("mn") {
        return mn_cli::main(args.collect());
    }
    launch::main(
        Daemon {
            name: "mip6-ha",
            about: "Mobile IPv6 home agent (RFC 6275 §10) with two-generation ESP keys",
            default_socket: "/run/mip6-ha.sock",
            load: load_checked,
            socket_in_config: |path| {
                config::load(path)
                    .map(|c| c.control_socket)
                    .map_err(|e| e.to_string())
            },
            logging: |c: &DaemonConfig| (c.log.format == LogFormat::Json, c.log.level.to_tracing()),
            render_status: status::render_text,
        },
        start::run,
    )
}

/// Loads and validates the configuration, interfaces included (`if_nametoindex`).
fn load_checked(path: &Path) -> Result<DaemonConfig, Vec<String>> {
    let config = config::load(path).map_err(|e| vec![e.to_string()])?;
    config
        .validate(&|name| mip6_netio::if_index(name).is_ok())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok(config)
}
