//! `mip6-mn`: the Mobile IPv6 mobile node daemon (RFC 6275 §11). It runs the sans-IO
//! [`mip6_mn::MobileNode`] in the daemon shell of `mip6-daemon` on a current-thread
//! tokio runtime ([`mip6_mn_daemon::start`]): a TUN carrying the home address, BAs and
//! tunnel frames from the shell's sockets, movement detection from rtnetlink address
//! events.
//!
//! Exit status: 0 after SIGINT/SIGTERM/SIGQUIT (everything installed removed) or
//! `--check-config` success, 2 on a configuration error, 1 on a runtime error.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use mip6_daemon::config::LogFormat;
use mip6_daemon::launch::{self, Daemon};
use mip6_mn::MnConfig;
use mip6_mn_daemon::config::{self, DaemonConfig};
use mip6_mn_daemon::{start, status};

fn main() -> ExitCode {
    launch::main(
        Daemon {
            name: "mip6-mn",
            about: "Mobile IPv6 mobile node (RFC 6275 §11) with two-generation ESP keys",
            // Each node's default socket is derived from its home address
            // (config::HostDefaults): `status` alone finds the one there is.
            default_socket: "/run/mip6-mn-*.sock",
            load: load_checked,
            socket_in_config: |path| {
                config::load(path)
                    .map(|c| c.control_socket())
                    .map_err(|e| e.to_string())
            },
            logging: |(c, _): &(DaemonConfig, MnConfig)| {
                (c.log.format == LogFormat::Json, c.log.level.to_tracing())
            },
            render_status: status::render_text,
        },
        start::run,
    )
}

/// Loads and validates the configuration (interfaces must exist here) and converts
/// it to the engine's.
fn load_checked(path: &Path) -> Result<(DaemonConfig, MnConfig), Vec<String>> {
    let config = config::load(path).map_err(|e| vec![e.to_string()])?;
    let all = |errors: Vec<config::ConfigError>| {
        errors.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    config
        .validate(&|name| mip6_netio::if_index(name).is_ok())
        .map_err(all)?;
    let mut engine = config.to_engine().map_err(all)?;
    // One fsync'd store write per reserved block: see mip6_daemon::SEQUENCE_BLOCK.
    engine.sequence_block = mip6_daemon::SEQUENCE_BLOCK;
    Ok((config, engine))
}
