//! `mip6-ha`: the Mobile IPv6 home agent daemon (RFC 6275 §10). It runs the sans-IO
//! [`mip6_ha::HomeAgent`] in the daemon shell of `mip6-daemon` on a current-thread
//! tokio runtime ([`mip6_ha_daemon::start`]); the command line, status JSON, metrics
//! and capture are the shell's, shared with `mip6-mn`.
//!
//! Exit status: 0 ok, 1 runtime error, 2 configuration error.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use mip6_daemon::config::LogFormat;
use mip6_daemon::launch::{self, Daemon};
use mip6_ha_daemon::config::{self, DaemonConfig};
use mip6_ha_daemon::{start, status};

fn main() -> ExitCode {
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
